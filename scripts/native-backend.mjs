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

/**
 * CIM Forge's zero-copy bridge (libs/cim/src/resnet/dnnl-conv.ts, issue 21): two binding functions
 * that let our oneDNN addon read and write libtensorflow's tensor memory in place.
 *   cimTensorAddress(id) → [address (BigInt), byteLength]: the buffer of tensor `id`. On CPU,
 *     TFE_TensorHandleResolve's TF_Tensor shares the handle's buffer (TF 1.15, no copy; the tests
 *     check it), which lives as long as the handle (until deleteTensor).
 *   cimAllocTensor(shape, dtype) → id: a new, uninitialised float32/int32 tensor for an addon to write.
 * Optional: when an anchor does not match, the binding is built without them (the addon then copies).
 */
const BRIDGE_PATCHES = {
  'tfjs_backend.h': [
    {
      what: 'bridge declarations',
      from: `  napi_value GetTensorData(napi_env env, napi_value tensor_id_value);\n`,
      to: `  napi_value GetTensorData(napi_env env, napi_value tensor_id_value);

  // CIM Forge: [address (BigInt), byteLength] of tensor_id's buffer, and a new uninitialised tensor's id.
  napi_value CimTensorAddress(napi_env env, napi_value tensor_id_value);
  napi_value CimAllocTensor(napi_env env, napi_value shape_value, napi_value dtype_value);
`,
    },
  ],
  'tfjs_backend.cc': [
    {
      what: 'bridge implementation',
      from: `\n}  // namespace tfnodejs`,
      to: `
napi_value TFJSBackend::CimTensorAddress(napi_env env, napi_value tensor_id_value) {
  int32_t tensor_id;
  ENSURE_NAPI_OK_RETVAL(env, napi_get_value_int32(env, tensor_id_value, &tensor_id), nullptr);
  auto tensor_entry = tfe_handle_map_.find(tensor_id);
  if (tensor_entry == tfe_handle_map_.end()) {
    NAPI_THROW_ERROR(env, "cimTensorAddress called on a Tensor not referenced (tensor_id: %d)", tensor_id);
    return nullptr;
  }
  TF_AutoStatus tf_status;
  // on CPU the resolved TF_Tensor shares the handle's buffer; deleting it leaves the handle's reference
  TF_AutoTensor tensor(TFE_TensorHandleResolve(tensor_entry->second, tf_status.status));
  ENSURE_TF_OK_RETVAL(env, tf_status, nullptr);
  if (TF_TensorType(tensor.tensor) == TF_STRING) {
    NAPI_THROW_ERROR(env, "cimTensorAddress: string tensors have no flat buffer (tensor_id: %d)", tensor_id);
    return nullptr;
  }
  napi_value out, address, bytes;
  ENSURE_NAPI_OK_RETVAL(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)TF_TensorData(tensor.tensor), &address), nullptr);
  ENSURE_NAPI_OK_RETVAL(env, napi_create_double(env, (double)TF_TensorByteSize(tensor.tensor), &bytes), nullptr);
  ENSURE_NAPI_OK_RETVAL(env, napi_create_array_with_length(env, 2, &out), nullptr);
  ENSURE_NAPI_OK_RETVAL(env, napi_set_element(env, out, 0, address), nullptr);
  ENSURE_NAPI_OK_RETVAL(env, napi_set_element(env, out, 1, bytes), nullptr);
  return out;
}

napi_value TFJSBackend::CimAllocTensor(napi_env env, napi_value shape_value, napi_value dtype_value) {
  std::vector<int64_t> shape_vector;
  ExtractArrayShape(env, shape_value, &shape_vector);
  if (IsExceptionPending(env)) return nullptr;
  int32_t dtype_int32;
  ENSURE_NAPI_OK_RETVAL(env, napi_get_value_int32(env, dtype_value, &dtype_int32), nullptr);
  if (dtype_int32 != TF_FLOAT && dtype_int32 != TF_INT32) {
    NAPI_THROW_ERROR(env, "cimAllocTensor: float32 or int32 only (dtype %d)", dtype_int32);
    return nullptr;
  }
  const TF_DataType dtype = static_cast<TF_DataType>(dtype_int32);
  size_t bytes = TF_DataTypeSize(dtype);
  for (int64_t d : shape_vector) bytes *= static_cast<size_t>(d);
  TF_AutoTensor tensor(TF_AllocateTensor(dtype, shape_vector.data(), shape_vector.size(), bytes));
  TF_AutoStatus tf_status;
  TFE_TensorHandle *handle = TFE_NewTensorHandle(tensor.tensor, tf_status.status);
  ENSURE_TF_OK_RETVAL(env, tf_status, nullptr);
  if (dtype_int32 != TF_INT32) {  // as CreateTensor does (a shallow copy on the same device)
    TFE_TensorHandle *new_handle = CopyTFE_TensorHandleToDevice(env, device_name.c_str(), handle, tfe_context_);
    TFE_DeleteTensorHandle(handle);
    if (new_handle == nullptr) return nullptr;
    handle = new_handle;
  }
  napi_value id;
  ENSURE_NAPI_OK_RETVAL(env, napi_create_int32(env, InsertHandle(handle), &id), nullptr);
  return id;
}

}  // namespace tfnodejs`,
    },
  ],
  'tfjs_binding.cc': [
    {
      what: 'bridge entry points',
      from: `static napi_value InitTFNodeJSBinding(napi_env env, napi_value exports) {\n`,
      to: `static napi_value CimTensorAddress(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  ENSURE_NAPI_OK_RETVAL(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), nullptr);
  if (argc < 1) {
    NAPI_THROW_ERROR(env, "cimTensorAddress(id) takes 1 argument, got %zu", argc);
    return nullptr;
  }
  ENSURE_VALUE_IS_NUMBER_RETVAL(env, args[0], nullptr);
  TFJSBackend *const backend = GetTFJSBackend(env);
  if (!backend) return nullptr;
  return backend->CimTensorAddress(env, args[0]);
}

static napi_value CimAllocTensor(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  ENSURE_NAPI_OK_RETVAL(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), nullptr);
  if (argc < 2) {
    NAPI_THROW_ERROR(env, "cimAllocTensor(shape, dtype) takes 2 arguments, got %zu", argc);
    return nullptr;
  }
  ENSURE_VALUE_IS_NUMBER_RETVAL(env, args[1], nullptr);
  TFJSBackend *const backend = GetTFJSBackend(env);
  if (!backend) return nullptr;
  return backend->CimAllocTensor(env, args[0], args[1]);
}

static napi_value InitTFNodeJSBinding(napi_env env, napi_value exports) {
`,
    },
    {
      what: 'bridge exports',
      from: `      {"getNumOfTensors", nullptr, GetNumOfTensors, nullptr, nullptr,\n       nullptr, napi_default, nullptr},\n`,
      to: `      {"getNumOfTensors", nullptr, GetNumOfTensors, nullptr, nullptr,\n       nullptr, napi_default, nullptr},
      {"cimTensorAddress", nullptr, CimTensorAddress, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cimAllocTensor", nullptr, CimAllocTensor, nullptr, nullptr, nullptr, napi_default, nullptr},\n`,
    },
  ],
};

/** Applies each edit exactly once or throws (SetupError) naming the one that did not match. */
function applyPatches(src, patches, file) {
  for (const p of patches) {
    const n = src.split(p.from).length - 1;
    if (n !== 1) fail(`binding patch "${p.what}" matched ${n} times in ${file} (expected tfjs-node ${TFJS_NODE_VERSION})`);
    src = src.replace(p.from, () => p.to);
  }
  return src;
}

/** The binding's sources to build: tfjs_backend.cc always patched for 1.15; the bridge when its anchors match. */
function bindingSources() {
  const read = (f) => readFileSync(join(tfjsNodeDir, 'binding', f), 'utf8');
  const base = { 'tfjs_backend.cc': patchBindingSource(read('tfjs_backend.cc')) };
  try {
    const bridged = Object.fromEntries(Object.entries(BRIDGE_PATCHES).map(([f, ps]) => [f, applyPatches(base[f] ?? read(f), ps, f)]));
    return { ...base, ...bridged };
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    log(`${e.message}: building without the zero-copy bridge (the oneDNN addon copies tensors instead)`);
    return base;
  }
}

function patchBindingSource(src) {
  src = applyPatches(src, BINDING_PATCHES, 'tfjs_backend.cc');
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

/** The binding's sources and its place in the cache, keyed by a hash of what it is built from. */
function bindingBuild() {
  const sources = bindingSources();
  const napi = Math.max(...JSON.parse(readFileSync(join(tfjsNodeDir, 'package.json'), 'utf8')).binary.napi_versions);
  const hash = createHash('sha256');
  for (const f of ['tfjs_backend.cc', 'tfjs_backend.h', 'tfjs_binding.cc'])
    hash.update(f).update(sources[f] ?? readFileSync(join(tfjsNodeDir, 'binding', f)));
  const key = hash
    .update(readFileSync(join(tfjsNodeDir, 'binding.gyp')))
    .update(`${process.platform}-${process.arch}-napi${napi}-${process.versions.modules}-tf${TF_VERSION}`)
    .digest('hex')
    .slice(0, 16);
  return { sources, napi, cached: join(cacheRoot, 'bindings', key, 'tfjs_binding.node') };
}

/**
 * The installed binding is the cached build of the current sources (an older build of ours is
 * rebuilt). A tfjs-node not set up by this script (its official build: deps/ is no link to our
 * library) counts as current: it is not ours to replace.
 */
function bindingIsCurrent() {
  const deps = join(tfjsNodeDir, 'deps');
  if (!(existsSync(deps) && lstatSync(deps).isSymbolicLink() && readlinkSync(deps) === libDir)) return true;
  const { cached } = bindingBuild();
  const target = bindingPath();
  return existsSync(cached) && existsSync(target) && sha256File(target) === sha256File(cached);
}

/** Build (or take from the cache) the binding for this Node and libtensorflow 1.15. */
function provideBinding() {
  const { sources, napi, cached } = bindingBuild();
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
      for (const [f, src] of Object.entries(sources)) writeFileSync(join(build, 'binding', f), src);
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
  if (!existsSync(target) || sha256File(target) !== sha256File(cached)) {
    // a new file renamed over the old one: processes that have the old binding loaded keep their copy
    cpSync(cached, `${target}.tmp`);
    renameSync(`${target}.tmp`, target);
  }
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
  if (first.ok && (checkOnly || bindingIsCurrent())) {
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
