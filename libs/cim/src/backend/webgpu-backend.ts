/**
 * The `webgpu` tfjs backend (@tensorflow/tfjs-backend-webgpu) on Dawn for Node. Node has no
 * `navigator.gpu`: we pick the adapter ourselves (webgpu-adapter.ts), put Dawn's GPU* globals and
 * `navigator.gpu` on globalThis, and register the backend with the device we made (the package's
 * own registration would ask for a core adapter, which the software adapter is not).
 *
 * Differences from the other backends (each shown by webgpu.test.ts):
 * - no synchronous reads in Node: the package's readSync draws through an OffscreenCanvas, which
 *   Node lacks; `dataSync()`/`arraySync()` throw a clear error, so our code reads with `await data()`.
 * - float32 sums run in another order (tiled shaders), so results differ from wasm/cpu by rounding.
 * - the package's split-K matMul (chosen for small outputs with K >= 2000, e.g. weight gradients of
 *   small layers) adds partial sums with atomics, in whatever order the GPU runs them: the same
 *   product differs run to run. We pin the tiled program (MATMUL_PACKED) so a seed makes one run and
 *   a resumed run ends bit-identical to a straight one; large products used it anyway.
 * - relu(NaN) is 0 (cpu: NaN) and argMax skips NaN; max, sum and the loss still propagate NaN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { requestWebGpuAdapter, WebGpuUnavailableError, type WebGpuAdapterInfo, type WebGpuAdapterKind } from './webgpu-adapter.ts';

let adapterInfo: WebGpuAdapterInfo | undefined;

/** The adapter the webgpu backend runs on, once initWebGpuBackend has succeeded. */
export function currentWebGpuAdapter(): WebGpuAdapterInfo | undefined {
  return adapterInfo;
}

export const NO_READ_SYNC =
  'dataSync()/arraySync() are not available on the webgpu backend in Node (its synchronous read needs an OffscreenCanvas): read with `await tensor.data()`';

/** tfjs-backend-webgpu's MatMulProgramType.MatMulPackedProgram: tiled, one thread per output tile, no atomics */
export const MATMUL_PACKED = 3;

/** Limits tfjs needs raised above WebGPU's defaults (tfjs-backend-webgpu's base.ts, plus storage buffers per stage for concat/addN). */
const RAISED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const;

/**
 * Make `webgpu` the tfjs backend of this process on the adapter `kind` (the app's choice: a real
 * GPU unless it says software). Returns the adapter; throws WebGpuUnavailableError naming what is missing.
 */
export async function initWebGpuBackend(
  kind: WebGpuAdapterKind = 'gpu',
  log: (msg: string) => void = () => {},
): Promise<WebGpuAdapterInfo> {
  if (adapterInfo) return adapterInfo;
  // imported before navigator.gpu exists, so the package registers no factory of its own
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const { adapter, gpu, globals, info } = await requestWebGpuAdapter(kind);
  for (const [k, v] of Object.entries(globals))
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  Object.defineProperty(globalThis, 'navigator', {
    value: { ...(globalThis as { navigator?: object }).navigator, gpu },
    configurable: true,
    writable: true,
  });

  const requiredLimits: Record<string, number> = {};
  for (const l of RAISED_LIMITS) if (typeof adapter.limits[l] === 'number') requiredLimits[l] = adapter.limits[l];
  const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  void device.lost.then((l) => {
    if (l.reason !== 'destroyed') console.error(`WebGPU device lost (${l.reason}): ${l.message}`);
  });
  const backend = new WebGPUBackend(
    device as unknown as ConstructorParameters<typeof WebGPUBackend>[0],
    adapter.info as unknown as ConstructorParameters<typeof WebGPUBackend>[1],
  );
  // values still on the host (the package's small-tensor CPU path reads those) are fine; a GPU
  // buffer would go through an OffscreenCanvas, which Node lacks: say so instead
  const readSync = backend.readSync.bind(backend);
  const tensorData = (backend as unknown as { tensorMap: { get(id: object): { values?: unknown; dtype: string } | undefined } }).tensorMap;
  backend.readSync = (dataId: object) => {
    const d = tensorData.get(dataId);
    if (!d || d.values != null || d.dtype === 'string') return readSync(dataId);
    throw new Error(NO_READ_SYNC);
  };
  tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', MATMUL_PACKED);
  if (!tf.registerBackend('webgpu', () => backend, 3))
    throw new WebGpuUnavailableError('a tfjs backend named webgpu is already registered');
  if (!(await tf.setBackend('webgpu'))) throw new WebGpuUnavailableError(`tfjs could not start the webgpu backend on ${info.name}`);
  adapterInfo = info;
  log(
    `WebGPU adapter: ${info.name} (${info.kind}, Dawn ${info.dawnBackend}; vendor "${info.vendor}", ` +
      `architecture "${info.architecture}", device "${info.device}", "${info.description}")`,
  );
  return info;
}

export { WebGpuUnavailableError };
