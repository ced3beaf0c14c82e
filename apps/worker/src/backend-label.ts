/**
 * The tfjs backend a worker's rank processes will use, for the `backend` metric label — decided
 * without loading tfjs into the worker process: CIM_BACKEND when set, else `tensorflow` when
 * tfjs-node-gpu or tfjs-node is installed (as in the GPU image), else `wasm` (libs/cim's order).
 * Each rank reports the backend it really got (IPC `joined`); a mismatch is logged.
 */
import { createRequire } from 'node:module';

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
