// The worker bundle (scripts/build.mjs, as the image builds it) finds the Node-API addons that
// scripts/build.mjs copies under dist/: shared-memory mmap, Gloo and oneDNN load from the bundle as
// they do from the sources, and without the copies it falls back (pread, no Gloo, no oneDNN).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { missingAddons, parseRequired } from './native-check.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
/** whether the checkout has the addon built and loading (the build script's own check) */
const built = (script: string) => node([`scripts/${script}`, '--check']).status === 0;
const have = { shm: built('native-shm.mjs'), gloo: built('native-gloo.mjs'), dnnl: built('native-dnnl.mjs') };
const ADDONS = {
  shm: 'libs/collective/native/build/Release/cim_shm.node',
  gloo: 'libs/collective/native/gloo/build/Release/cim_gloo.node',
  dnnl: 'libs/cim/native/build/Release/cim_dnnl.node',
};

describe('the worker bundle and the native addons', () => {
  const out = `.cache/native-check-test-${process.pid}`;
  after(() => rmSync(join(root, out), { recursive: true, force: true }));
  const check = (...args: string[]) => node([join(out, 'apps/worker/src/native-check.js'), ...args]);

  it('build.mjs copies each built addon beside the bundles; the bundle loads it (mmap, Gloo, oneDNN)', () => {
    const b = node(['scripts/build.mjs', 'worker', '--out', out]);
    assert.equal(b.status, 0, b.stderr);
    const n = Object.values(have).filter(Boolean).length;
    assert.match(b.stdout, new RegExp(`build \\(worker\\): 8 bundles, .*, ${n} of 3 addons`));
    for (const [k, p] of Object.entries(ADDONS)) assert.equal(existsSync(join(root, out, p)), have[k as keyof typeof have], p);
    const r = check();
    assert.equal(r.status, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { shm: string; gloo: boolean; dnnl: string | null };
    assert.equal(status.shm, have.shm ? 'mmap' : 'pread');
    assert.equal(status.gloo, have.gloo);
    if (have.dnnl) assert.match(status.dnnl!, /^\d+\.\d+\.\d+$/);
    else assert.equal(status.dnnl, null);
    // where all three are built (CI, the image's build stage), --require passes
    if (have.shm && have.gloo && have.dnnl) assert.equal(check('--require', 'shm,gloo,dnnl').status, 0);
  });

  it('without the copies the bundle falls back, and --require names each missing addon (exit 1)', () => {
    for (const p of Object.values(ADDONS)) rmSync(join(root, out, p), { force: true });
    const r = check('--require', 'shm,gloo,dnnl');
    assert.equal(r.status, 1);
    assert.deepEqual(JSON.parse(r.stdout), { shm: 'pread', gloo: false, dnnl: null });
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0], /^native-check: shm: cim_shm\.node does not load/);
    assert.match(lines[1], /^native-check: gloo: the Gloo addon .* is not built/);
    assert.match(lines[2], /^native-check: dnnl: cim_dnnl\.node does not load/);
    assert.equal(check('--require', 'mmap').status, 2);
  });
});

describe('native-check arguments', () => {
  it('--require takes a list of shm, gloo, dnnl', () => {
    assert.deepEqual(parseRequired([]), []);
    assert.deepEqual(parseRequired(['--require', 'gloo,shm']), ['gloo', 'shm']);
    assert.throws(() => parseRequired(['--require']), /--require takes a list of shm, gloo, dnnl; got ""/);
    assert.throws(() => parseRequired(['--require', 'shm,nccl']), /got "shm,nccl"/);
  });

  it('names only what was asked for and does not load', () => {
    const none = { shm: 'pread' as const, gloo: false, dnnl: null };
    assert.deepEqual(missingAddons({ shm: 'mmap', gloo: true, dnnl: '3.0.0' }, ['shm', 'gloo', 'dnnl']), []);
    assert.equal(missingAddons(none, []).length, 0);
    assert.equal(missingAddons(none, ['shm']).length, 1);
    assert.match(missingAddons(none, ['dnnl'])[0], /^dnnl: /);
  });
});
