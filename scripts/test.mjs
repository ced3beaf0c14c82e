// Runs every *.test.ts under the given roots (default: apps and libs) with node's test runner.
// Node 20's `--test` takes no globs, so we list the files here.
//
// Backends: tests that train or compare numbers run on CIM_TEST_BACKEND (default `tensorflow`,
// the native backend `npm ci` sets up). A full run (no roots given) then runs the core engine
// tests a second time on `wasm`, the fallback every machine has: parity with the authors'
// fixture, the reference model, learning, and exact resume.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const WASM_CORE = [
  'libs/cim/src/parity.test.ts',
  'libs/cim/src/testing/reference-cim.test.ts',
  'libs/engine/src/learning.test.ts',
  'libs/engine/src/pretrain.test.ts',
];

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
}
for (const r of roots.length ? roots : ['libs', 'apps']) {
  if (statSync(r).isFile()) files.push(r);
  else walk(r);
}
files.sort();

function run(list, env) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...extra, ...list], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return r.status ?? 1;
}

const backend = process.env.CIM_TEST_BACKEND ?? 'tensorflow';
console.log(`── tests on the ${backend} backend (${files.length} files)`);
let status = run(files, { CIM_TEST_BACKEND: backend });
if (!roots.length && backend !== 'wasm') {
  console.log(`── the core engine tests again on the wasm backend (${WASM_CORE.length} files)`);
  status = run(WASM_CORE, { CIM_TEST_BACKEND: 'wasm' }) || status;
}
process.exit(status);
