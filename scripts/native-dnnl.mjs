#!/usr/bin/env node
// Builds libs/cim's oneDNN convolution addon (libs/cim/native/cim_dnnl.c over Debian's libdnnl-dev,
// the oneDNN PyTorch uses on CPU) with node-gyp against this Node's headers. Run by `npm ci`
// (postinstall); idempotent (skips when the built addon is newer than its source). Optional: when
// it cannot build (no libdnnl-dev, no C compiler, no Node headers), it says so and exits 0, and the
// tensorflow backend's convolutions run on libtensorflow's own kernels (they do by default anyway:
// `bench:train --conv dnnl` and libs/cim setDnnlConv(true) turn oneDNN on; docs/benchmarks.md).
//
//   node scripts/native-dnnl.mjs          # build (a no-op when up to date)
//   node scripts/native-dnnl.mjs --check  # exit 0 when the addon loads, else 1
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'libs/cim/native');
const built = join(dir, 'build/Release/cim_dnnl.node');
const log = (msg) => console.log(`[native-dnnl] ${msg}`);

function loads() {
  try {
    const m = createRequire(import.meta.url)(built);
    return typeof m.forward === 'function' && typeof m.version === 'function';
  } catch {
    return false;
  }
}

if (process.argv.includes('--check')) process.exit(loads() ? 0 : 1);

const newest = Math.max(...['cim_dnnl.c', 'binding.gyp'].map((f) => statSync(join(dir, f)).mtimeMs));
if (existsSync(built) && statSync(built).mtimeMs > newest && loads()) {
  log('up to date');
  process.exit(0);
}
if (!['/usr/include/dnnl.h', '/usr/include/oneapi/dnnl/dnnl.h'].some((f) => existsSync(f))) {
  log("oneDNN's headers were not found (Debian: apt-get install libdnnl-dev): convolutions stay on libtensorflow's kernels");
  process.exit(0);
}
const nodedir = [process.env.CIM_NODEDIR, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local']
  .filter(Boolean)
  .find((d) => existsSync(join(d, 'include/node/node_api.h')));
if (!nodedir) {
  log("Node's C headers were not found (Debian: apt-get install libnode-dev): convolutions stay on libtensorflow's kernels");
  process.exit(0);
}
const nodeGyp = createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: dir,
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, npm_config_nodedir: nodedir },
});
if (r.status !== 0 || !loads()) {
  log(`build failed (convolutions stay on libtensorflow's kernels):\n${r.stdout}${r.stderr}`);
  process.exit(0);
}
log(`built ${built}`);
