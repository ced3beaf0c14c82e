// Entry of every loader worker thread. Node 20 does not apply `--import tsx` (in execArgv) to
// a worker's own modules, so TypeScript support is registered here, then the real entry loaded.
// Without tsx installed (compiled JavaScript) the registration is skipped.
import { workerData } from 'node:worker_threads';

try {
  const { register } = await import('tsx/esm/api');
  register();
} catch {
  // no tsx: the entry and sample module must be JavaScript
}
await import(workerData.entry);
