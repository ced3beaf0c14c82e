/**
 * The tfjs backend a worker's rank processes will use, for the `backend` metric label — decided
 * without loading tfjs into the worker process: CIM_BACKEND when set, else `tensorflow` when
 * tfjs-node-gpu or tfjs-node is installed with its native binding built (as in the GPU image, or
 * after `npm run setup:native`), else `wasm` (libs/cim's order). Each rank reports the backend it
 * really got (IPC `joined`); a mismatch is logged.
 * With CIM_BACKEND=webgpu the worker probes the WebGPU adapter (Dawn, no tfjs) and the label names
 * it: `webgpu:<adapter>` (e.g. `webgpu:nvidia-h200`, `webgpu:llvmpipe-llvm-15-0-6-256-bits`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { probeWebGpuAdapter, webGpuLabel, type WebGpuAdapterInfo, type WebGpuAdapterKind } from '@cim-forge/cim/config';

/** A native tfjs package is installed and holds a built binding (lib/napi-vN/tfjs_binding.node). */
export function nativeBindingPresent(pkg: string, resolve: (spec: string) => string = createRequire(import.meta.url).resolve): boolean {
  let dir: string;
  try {
    dir = dirname(resolve(`${pkg}/package.json`));
  } catch {
    return false;
  }
  const lib = join(dir, 'lib');
  return existsSync(lib) && readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
}

export function backendLabel(choice: string, present: (pkg: string) => boolean = nativeBindingPresent): string {
  if (choice !== 'auto') return choice;
  return ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((pkg) => present(pkg)) ? 'tensorflow' : 'wasm';
}

/** backendLabel, or for webgpu the probed adapter's label; rejects, naming what is missing, when there is no adapter. */
export async function workerBackendLabel(
  env: { backend: string; webgpuAdapter: WebGpuAdapterKind },
  probe: (kind: WebGpuAdapterKind) => Promise<Pick<WebGpuAdapterInfo, 'name'>> = probeWebGpuAdapter,
): Promise<string> {
  if (env.backend !== 'webgpu') return backendLabel(env.backend);
  return webGpuLabel(await probe(env.webgpuAdapter));
}
