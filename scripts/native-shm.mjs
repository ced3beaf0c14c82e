#!/usr/bin/env node
// Builds libs/collective's tiny Node-API addon (libs/collective/native/cim_shm.c: mmap of a
// /dev/shm file into a shared ArrayBuffer) with node-gyp against this Node's headers. Run by
// `npm ci` (postinstall); idempotent (skips when the built addon is newer than its source).
// Optional: when it cannot build (no C compiler, no headers), it says so and exits 0, and the
// node-local all-reduce moves its bytes through the same /dev/shm files with pread/pwrite
// instead (libs/collective/src/shm-lane.ts), about half the speed.
//
//   node scripts/native-shm.mjs          # build (a no-op when up to date)
//   node scripts/native-shm.mjs --check  # exit 0 when the addon loads, else 1
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'libs/collective/native');
const built = join(dir, 'build/Release/cim_shm.node');
const log = (msg) => console.log(`[native-shm] ${msg}`);

function loads() {
  try {
    const m = createRequire(import.meta.url)(built);
    return typeof m.map === 'function' && typeof m.unmap === 'function';
  } catch {
    return false;
  }
}

if (process.argv.includes('--check')) process.exit(loads() ? 0 : 1);

const newest = Math.max(...['cim_shm.c', 'binding.gyp'].map((f) => statSync(join(dir, f)).mtimeMs));
if (existsSync(built) && statSync(built).mtimeMs > newest && loads()) {
  log('up to date');
  process.exit(0);
}
const nodedir = [process.env.CIM_NODEDIR, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local']
  .filter(Boolean)
  .find((d) => existsSync(join(d, 'include/node/node_api.h')));
if (!nodedir) {
  log("Node's C headers were not found (Debian: apt-get install libnode-dev): the node-local all-reduce will use pread/pwrite");
  process.exit(0);
}
const nodeGyp = createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: dir,
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, npm_config_nodedir: nodedir },
});
if (r.status !== 0 || !loads()) {
  log(`build failed (the node-local all-reduce will use pread/pwrite):\n${r.stdout}${r.stderr}`);
  process.exit(0);
}
log(`built ${built}`);
