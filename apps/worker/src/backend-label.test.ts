import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { backendLabel, nativeBindingPresent, workerBackendLabel } from './backend-label.ts';
import { readServiceEnv, toProcessEnv } from './service-env.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('backendLabel: an explicit choice wins; auto is tensorflow when a native binding is present, else wasm', () => {
  assert.equal(
    backendLabel('cpu', () => false),
    'cpu',
  );
  assert.equal(
    backendLabel('auto', () => false),
    'wasm',
  );
  assert.equal(
    backendLabel('auto', (p) => p === '@tensorflow/tfjs-node'),
    'tensorflow',
  );
  // a package that is not installed has no binding
  assert.equal(nativeBindingPresent('@tensorflow/no-such-package'), false);
});

test('backendLabel(auto) on this machine names the backend a rank process really gets', () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', "const { initBackend } = await import('@cim-forge/cim'); console.log((await initBackend('auto')).name)"],
    {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, CIM_BACKEND: '' },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(backendLabel('auto'), r.stdout.trim().split('\n').at(-1));
});

test('CIM_BACKEND=webgpu: the label names the probed adapter; no adapter is an error that says what is missing', async () => {
  assert.equal(await workerBackendLabel({ backend: 'wasm', webgpuAdapter: 'gpu' }), 'wasm');
  assert.match(await workerBackendLabel({ backend: 'webgpu', webgpuAdapter: 'software' }), /^webgpu:llvmpipe[a-z0-9.-]*$/);
  // the real GPU adapter: on a machine without one (CI) the worker must refuse to start, saying why
  const gpu = await workerBackendLabel({ backend: 'webgpu', webgpuAdapter: 'gpu' }).then(
    (l) => l,
    (e: Error) => e,
  );
  if (gpu instanceof Error) assert.match(gpu.message, /^WebGPU: no GPU adapter: .*--webgpu-adapter software/);
  else assert.match(gpu, /^webgpu:[a-z0-9.-]+$/);
});

test('CIM_WEBGPU_ADAPTER is read with the service env, checked, and passed on to rank processes', () => {
  const base = { DATABASE_URL: 'postgresql://x@h/db', S3_BUCKET: 'b' };
  assert.equal(readServiceEnv(base, 'worker').webgpuAdapter, 'gpu');
  const env = readServiceEnv({ ...base, CIM_BACKEND: 'webgpu', CIM_WEBGPU_ADAPTER: 'software' }, 'worker');
  assert.equal(env.webgpuAdapter, 'software');
  assert.equal(toProcessEnv(env).CIM_WEBGPU_ADAPTER, 'software');
  assert.equal(toProcessEnv(env).CIM_BACKEND, 'webgpu');
  assert.throws(() => readServiceEnv({ ...base, CIM_WEBGPU_ADAPTER: 'vulkan' }, 'worker'), /unknown WebGPU adapter "vulkan"/);
});
