#!/usr/bin/env node
// Provides the native `tensorflow` tfjs backend on a machine that reaches only the npm registry:
// libtensorflow 1.15 (CPU) from the npm package tfjs-node-lambda-releases@1.6.1 and the binding
// of @tensorflow/tfjs-node@4.22.0 rebuilt from source against this Node's headers. The official
// install script of tfjs-node downloads libtensorflow from Google's storage, which these machines
// can't reach (package.json's allowScripts keeps npm from running it); production images use it.
//
// Run by `npm ci` (postinstall) and `.ci/run`; idempotent; every download is hash-checked; the
// library and the built binding are cached in $CIM_NATIVE_CACHE (default ~/.cache/cim-forge/native).
//
//   node scripts/native-backend.mjs            # set up (a no-op when already set up)
//   node scripts/native-backend.mjs --check    # exit 0 when the backend loads, else 1 (no changes)
//   CIM_NATIVE=skip npm ci                     # skip it (the wasm backend is used instead)
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  cpSync,
  mkdtempSync,
  readlinkSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

// ── pinned inputs ───────────────────────────────────────────────────────────────────────────────
const LIB_PACKAGE = 'tfjs-node-lambda-releases@1.6.1';
const LIB_PACKAGE_INTEGRITY = 'sha512-D275PZpxsKenTuiPnvIE5T+D5JrT4aU9M3EDCedBQKlP0hUB7011Yzg8CAJ6MBIog9Lq90aaEair4yrBBlk61w==';
const LIB_ARCHIVE_ENTRY = 'package/nodejs12.x-tf2.7.0.br'; // brotli-compressed tar of a node_modules tree
const LIB_TREE_DEPS = 'node_modules/@tensorflow/tfjs-node/deps';
const LIB_SHA256 = {
  'lib/libtensorflow.so.1.15.0': '95590cd1cbe4fcd2065e17b2c797a39e2ee31b499d081aff77d3b70a93818daa',
  'lib/libtensorflow_framework.so.1.15.0': '0217782c0ef974979ea371efa2b672622cd4486d2ec2746d24277a5f50d63e09',
};
const TF_VERSION = '1.15.0';
const TFJS_NODE_VERSION = '4.22.0';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tfjsNodeDir = join(root, 'node_modules/@tensorflow/tfjs-node');
const cacheRoot = process.env.CIM_NATIVE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cim-forge/native');
const libDir = join(cacheRoot, `libtensorflow-${TF_VERSION}-cpu`);

const log = (msg) => console.log(`[native-backend] ${msg}`);
class SetupError extends Error {}
const fail = (msg) => {
  throw new SetupError(msg);
};

function sha256File(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) fail(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status}:\n${(r.stderr || r.stdout || '').trim().slice(-3000)}`);
  return r.stdout;
}

/** The library's files are present and carry the pinned hashes. */
function libraryIsValid() {
  return Object.entries(LIB_SHA256).every(([rel, sum]) => existsSync(join(libDir, rel)) && sha256File(join(libDir, rel)) === sum);
}

/** Fetch tfjs-node-lambda-releases from the npm registry, check it, unpack libtensorflow into the cache. */
async function provideLibrary() {
  if (libraryIsValid()) return;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = mkdtempSync(join(cacheRoot, 'tmp-'));
  try {
    log(`fetching ${LIB_PACKAGE} from the npm registry (195 MB, once; cached in ${cacheRoot})`);
    run('npm', ['pack', LIB_PACKAGE, '--silent', '--pack-destination', tmp]);
    const tgz = join(tmp, 'tfjs-node-lambda-releases-1.6.1.tgz');
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (integrity !== LIB_PACKAGE_INTEGRITY)
      fail(`${LIB_PACKAGE} has integrity ${integrity}, expected ${LIB_PACKAGE_INTEGRITY}: refusing it`);
    run('tar', ['-xzf', tgz, '-C', tmp, LIB_ARCHIVE_ENTRY]);
    rmSync(tgz);
    const tree = join(tmp, 'tree');
    mkdirSync(tree);
    // brotli → tar: only the deps/ folder of tfjs-node (lib/, include/, the licences)
    const tar = spawn('tar', ['-x', '-C', tree, LIB_TREE_DEPS], { stdio: ['pipe', 'ignore', 'pipe'] });
    let tarErr = '';
    tar.stderr.on('data', (d) => (tarErr += d));
    const tarDone = new Promise((res) => tar.on('close', res));
    await pipeline(createReadStream(join(tmp, LIB_ARCHIVE_ENTRY)), createBrotliDecompress(), tar.stdin);
    const code = await tarDone;
    if (code !== 0) fail(`unpacking ${LIB_ARCHIVE_ENTRY} failed: ${tarErr.trim()}`);
    const deps = join(tree, LIB_TREE_DEPS);
    for (const [rel, sum] of Object.entries(LIB_SHA256)) {
      const got = sha256File(join(deps, rel));
      if (got !== sum) fail(`${rel} in ${LIB_PACKAGE} has sha256 ${got}, expected ${sum}: refusing it`);
    }
    rmSync(libDir, { recursive: true, force: true });
    renameSync(deps, libDir);
    log(`libtensorflow ${TF_VERSION} (CPU) verified and cached in ${libDir}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * tfjs-node 4.22's binding uses TF_TString (TensorFlow ≥ 2.4). libtensorflow 1.15 stores a string
 * tensor as [uint64 offset × n][TF_StringEncode'd bytes] and has no per-element deallocation, as
 * the binding of tfjs-node 2.x had it. Numeric tensors are untouched. Each edit must match once.
 */
const BINDING_PATCHES = [
  {
    what: 'the TF_TString header (TensorFlow >= 2.4 only)',
    from: `#include "tensorflow/core/platform/ctstring_internal.h"\n`,
    to: ``,
  },
  {
    what: 'string tensor from JS values',
    from: `  TF_AutoTensor tensor(TF_AllocateTensor(TF_DataType::TF_STRING, shape,
                                         shape_length,
                                         array_length * sizeof(TF_TString)));

  TF_TString *t = reinterpret_cast<TF_TString *>(TF_TensorData(tensor.tensor));

  for (uint32_t i = 0; i < array_length; ++i) {`,
    to: `  // libtensorflow 1.15 layout: [uint64 offset x n][TF_StringEncode'd bytes]
  std::vector<const char *> values(array_length);
  std::vector<size_t> lengths(array_length);
  size_t encoded_size = 0;
  for (uint32_t i = 0; i < array_length; ++i) {`,
  },
  {
    what: 'string tensor from JS values (copy)',
    from: `    TF_TString_Init(t);
    TF_TString_Copy(t, reinterpret_cast<char *>(buffer), cur_array_length);
    t += 1;
  }
`,
    to: `    values[i] = reinterpret_cast<const char *>(buffer);
    lengths[i] = cur_array_length;
    encoded_size += TF_StringEncodedSize(cur_array_length);
  }
  const size_t offsets_size = array_length * sizeof(uint64_t);
  TF_AutoTensor tensor(TF_AllocateTensor(TF_DataType::TF_STRING, shape,
                                         shape_length,
                                         offsets_size + encoded_size));
  char *data = reinterpret_cast<char *>(TF_TensorData(tensor.tensor));
  uint64_t *offsets = reinterpret_cast<uint64_t *>(data);
  char *encoded = data + offsets_size;
  size_t offset = 0;
  for (uint32_t i = 0; i < array_length; ++i) {
    TF_AutoStatus encode_status;
    offsets[i] = offset;
    offset += TF_StringEncode(values[i], lengths[i], encoded + offset,
                              encoded_size - offset, encode_status.status);
    ENSURE_TF_OK_RETVAL(env, encode_status, nullptr);
  }
`,
  },
  {
    what: 'string tensor to JS values',
    from: `  TF_TString *ts = static_cast<TF_TString *>(TF_TensorData(tensor.tensor));`,
    to: `  const char *data = static_cast<const char *>(TF_TensorData(tensor.tensor));
  const size_t offsets_size = num_elements * sizeof(uint64_t);
  const uint64_t *offsets = reinterpret_cast<const uint64_t *>(data);
  const char *encoded = data + offsets_size;
  const size_t encoded_size = TF_TensorByteSize(tensor.tensor) - offsets_size;`,
  },
  {
    what: 'string tensor to JS values (decode)',
    from: `    const char *raw_string = TF_TString_GetDataPointer(ts);
    size_t raw_string_size = TF_TString_GetSize(ts);`,
    to: `    const char *raw_string = nullptr;
    size_t raw_string_size = 0;
    TF_StringDecode(encoded + offsets[i], encoded_size - offsets[i], &raw_string,
                    &raw_string_size, status.status);
    ENSURE_TF_OK(env, status);`,
  },
  { what: 'string tensor to JS values (advance)', from: `\n    ts += 1;\n`, to: `\n` },
  {
    what: 'string tensor deletion',
    from: `    TF_TString *data = reinterpret_cast<TF_TString *>(TF_TensorData(tensor.tensor));

    // Deallocate each string
    for (size_t i = 0; i < num_elements; i++) {
      TF_TString_Dealloc(data + i);
    }`,
    to: `    (void)num_elements;  // libtensorflow 1.15 strings live inside the tensor's buffer`,
  },
];

function patchBindingSource(src) {
  for (const p of BINDING_PATCHES) {
    const n = src.split(p.from).length - 1;
    if (n !== 1) fail(`binding patch "${p.what}" matched ${n} times in tfjs_backend.cc (expected tfjs-node ${TFJS_NODE_VERSION})`);
    src = src.replace(p.from, p.to);
  }
  if (/TF_TString/.test(src)) fail('binding patch left a TF_TString use behind');
  return src;
}

/** Node's own headers (include/node/node_api.h) under this Node's prefix or the system's. */
function findNodeDir() {
  const candidates = [process.env.CIM_NODEDIR, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local'].filter(Boolean);
  const dir = candidates.find((d) => existsSync(join(d, 'include/node/node_api.h')) && existsSync(join(d, 'include/node/node.h')));
  if (!dir)
    fail(
      `Node's C headers were not found (looked for include/node/node_api.h under ` +
        `${candidates.join(', ')}); install them (Debian: apt-get install libnode-dev) or set CIM_NODEDIR`,
    );
  return dir;
}

function bindingPath() {
  const require = createRequire(join(tfjsNodeDir, 'package.json'));
  const preGyp = require('@mapbox/node-pre-gyp');
  return preGyp.find(join(tfjsNodeDir, 'package.json'));
}

/** Build (or take from the cache) the binding for this Node and libtensorflow 1.15. */
function provideBinding() {
  const backendSrc = patchBindingSource(readFileSync(join(tfjsNodeDir, 'binding/tfjs_backend.cc'), 'utf8'));
  const napi = Math.max(...JSON.parse(readFileSync(join(tfjsNodeDir, 'package.json'), 'utf8')).binary.napi_versions);
  const key = createHash('sha256')
    .update(backendSrc)
    .update(readFileSync(join(tfjsNodeDir, 'binding/tfjs_binding.cc')))
    .update(readFileSync(join(tfjsNodeDir, 'binding.gyp')))
    .update(`${process.platform}-${process.arch}-napi${napi}-${process.versions.modules}-tf${TF_VERSION}`)
    .digest('hex')
    .slice(0, 16);
  const cached = join(cacheRoot, 'bindings', key, 'tfjs_binding.node');
  if (!existsSync(cached)) {
    for (const tool of ['python3', 'make', 'g++']) {
      if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0)
        fail(`building the binding needs ${tool} (Debian: apt-get install python3 make g++)`);
    }
    const nodedir = findNodeDir();
    const build = mkdtempSync(join(cacheRoot, 'build-'));
    try {
      log(
        `building the tfjs-node binding against libtensorflow ${TF_VERSION} and Node ${process.version}'s headers (${nodedir}/include/node)`,
      );
      cpSync(join(tfjsNodeDir, 'binding'), join(build, 'binding'), { recursive: true });
      cpSync(join(tfjsNodeDir, 'binding.gyp'), join(build, 'binding.gyp'));
      writeFileSync(join(build, 'binding/tfjs_backend.cc'), backendSrc);
      symlinkSync(libDir, join(build, 'deps'));
      const nodeGyp = createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
      run(
        process.execPath,
        [
          nodeGyp,
          'rebuild',
          `--nodedir=${nodedir}`,
          '--',
          `-Dnapi_build_version=${napi}`,
          '-Dmodule_name=tfjs_binding',
          `-Dmodule_path=${join(build, 'out')}`,
        ],
        {
          cwd: build,
          env: { ...process.env, npm_config_nodedir: nodedir },
        },
      );
      mkdirSync(dirname(cached), { recursive: true });
      cpSync(join(build, 'build/Release/tfjs_binding.node'), `${cached}.tmp`);
      renameSync(`${cached}.tmp`, cached);
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
  }
  // node_modules/@tensorflow/tfjs-node/{deps → the cached library, lib/napi-vN/tfjs_binding.node}
  const deps = join(tfjsNodeDir, 'deps');
  const linked = existsSync(deps) && lstatSync(deps).isSymbolicLink() && readlinkSync(deps) === libDir;
  if (!linked) {
    rmSync(deps, { recursive: true, force: true });
    symlinkSync(libDir, deps);
  }
  const target = bindingPath();
  mkdirSync(dirname(target), { recursive: true });
  if (!existsSync(target) || sha256File(target) !== sha256File(cached)) cpSync(cached, target);
}

/** Load tfjs-node in a fresh process and run one product; returns its report or the error. */
function smokeTest() {
  const code = `
    const tf = require('@tensorflow/tfjs-node');
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).dataSync();
    const s = tf.tensor1d(['crop', 'correlate'], 'string').dataSync();
    console.log(JSON.stringify({ backend: tf.getBackend(), tf: tf.backend().binding.TF_Version, y: Array.from(y), s }));`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  const line = (r.stdout || '').trim().split('\n').pop() || '';
  try {
    const out = JSON.parse(line);
    const ok = out.backend === 'tensorflow' && out.y.join() === '19,22,43,50' && out.s.join() === 'crop,correlate';
    return ok ? { ok, out } : { ok, error: `unexpected result ${line}` };
  } catch {
    return { ok: false, error: (r.stderr || r.stdout || `exit ${r.status}`).trim().slice(-2000) };
  }
}

async function main() {
  const checkOnly = process.argv.includes('--check');
  if (process.env.CIM_NATIVE === 'skip') {
    log('CIM_NATIVE=skip: not setting up the native backend (tfjs falls back to wasm)');
    return;
  }
  if (!existsSync(join(tfjsNodeDir, 'package.json'))) {
    fail(
      `node_modules/@tensorflow/tfjs-node is missing: \`npm ci\` should install it (an optional dependency ` +
        `whose install script package.json's allowScripts denies; npm < 11 runs that script, it fails ` +
        `offline and npm drops the package — use npm ≥ 11)`,
    );
  }
  const first = smokeTest();
  if (first.ok) {
    log(`ready: tfjs backend tensorflow, libtensorflow ${first.out.tf}`);
    return;
  }
  if (checkOnly) fail(`the native backend does not load: ${first.error}`);
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    log(
      `no libtensorflow 1.15 build for ${process.platform}-${process.arch} in the npm registry: skipping ` +
        `(tfjs falls back to wasm; on such hosts install @tensorflow/tfjs-node's official build)`,
    );
    return;
  }
  await provideLibrary();
  provideBinding();
  const after = smokeTest();
  if (!after.ok) fail(`the native backend was built but does not load: ${after.error}`);
  log(`ready: tfjs backend tensorflow, libtensorflow ${after.out.tf} (CPU, built from the npm registry)`);
}

main().catch((err) => {
  console.error(`[native-backend] FAILED: ${err instanceof SetupError ? err.message : err.stack}`);
  console.error(
    '[native-backend] the tests and benchmarks expect the tensorflow backend; fix the cause above and ' +
      'run `node scripts/native-backend.mjs`, or set CIM_NATIVE=skip to use wasm only',
  );
  process.exit(1);
});
