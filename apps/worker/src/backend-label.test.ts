import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendLabel, workerBackendLabel } from './backend-label.ts';
import { readServiceEnv, toProcessEnv } from './service-env.ts';

test('backendLabel: an explicit choice wins; auto is tensorflow when a native package resolves, else wasm', () => {
  const none = () => {
    throw new Error('not found');
  };
  assert.equal(backendLabel('cpu', none), 'cpu');
  assert.equal(backendLabel('auto', none), 'wasm');
  assert.equal(backendLabel('auto', (p) => (p === '@tensorflow/tfjs-node' ? '/x' : none())), 'tensorflow');
  // this machine: no native tfjs installed
  assert.equal(backendLabel('auto'), 'wasm');
});

test('CIM_BACKEND=webgpu: the label names the probed adapter; no adapter is an error that says what is missing', async () => {
  assert.equal(await workerBackendLabel({ backend: 'wasm', webgpuAdapter: 'gpu' }), 'wasm');
  assert.match(await workerBackendLabel({ backend: 'webgpu', webgpuAdapter: 'software' }), /^webgpu:llvmpipe[a-z0-9.-]*$/);
  // the real GPU adapter: on a machine without one (CI) the worker must refuse to start, saying why
  const gpu = await workerBackendLabel({ backend: 'webgpu', webgpuAdapter: 'gpu' }).then((l) => l, (e: Error) => e);
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
