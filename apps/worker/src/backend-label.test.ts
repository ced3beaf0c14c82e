import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { backendLabel, nativeBindingPresent } from './backend-label.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('backendLabel: an explicit choice wins; auto is tensorflow when a native binding is present, else wasm', () => {
  assert.equal(backendLabel('cpu', () => false), 'cpu');
  assert.equal(backendLabel('auto', () => false), 'wasm');
  assert.equal(backendLabel('auto', (p) => p === '@tensorflow/tfjs-node'), 'tensorflow');
  // a package that is not installed has no binding
  assert.equal(nativeBindingPresent('@tensorflow/no-such-package'), false);
});

test('backendLabel(auto) on this machine names the backend a rank process really gets', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "const { initBackend } = await import('@cim-forge/cim'); console.log((await initBackend('auto')).name)"], {
    cwd: root, encoding: 'utf8', env: { ...process.env, CIM_BACKEND: '' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(backendLabel('auto'), r.stdout.trim().split('\n').at(-1));
});
