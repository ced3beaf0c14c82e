/**
 * The tfjs backend a worker's rank processes will use, for the `backend` metric label — decided
 * without loading tfjs into the worker process: CIM_BACKEND when set, else `tensorflow` when
 * tfjs-node-gpu or tfjs-node is installed (as in the GPU image), else `wasm` (libs/cim's order).
 * With CIM_BACKEND=webgpu the worker probes the WebGPU adapter (Dawn, no tfjs) and the label names
 * it: `webgpu:<adapter>` (e.g. `webgpu:nvidia-h200`, `webgpu:llvmpipe-llvm-15-0-6-256-bits`).
 * Each rank reports the backend it really got (IPC `joined`); a mismatch is logged.
 */
import { createRequire } from 'node:module';
import { probeWebGpuAdapter, webGpuLabel, type WebGpuAdapterInfo, type WebGpuAdapterKind } from '@cim-forge/cim/webgpu-adapter';

export function backendLabel(choice: string, resolve: (pkg: string) => string = createRequire(import.meta.url).resolve): string {
  if (choice !== 'auto') return choice;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      resolve(pkg);
      return 'tensorflow';
    } catch {
      // not installed
    }
  }
  return 'wasm';
}

/** backendLabel, or for webgpu the probed adapter's label; rejects, naming what is missing, when there is no adapter. */
export async function workerBackendLabel(
  env: { backend: string; webgpuAdapter: WebGpuAdapterKind },
  probe: (kind: WebGpuAdapterKind) => Promise<Pick<WebGpuAdapterInfo, 'name'>> = probeWebGpuAdapter,
): Promise<string> {
  if (env.backend !== 'webgpu') return backendLabel(env.backend);
  return webGpuLabel(await probe(env.webgpuAdapter));
}
