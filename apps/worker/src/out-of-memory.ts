/**
 * A rank that runs out of memory failed because of its run's config (model, batch, sizes), not
 * the platform: the run fails at once as the user's error, with that reason, instead of being
 * retried on another worker that is no larger. Two ways it shows: an exception from the tensor
 * backend (tfjs-node's allocator, the wasm heap, an ArrayBuffer), or V8 aborting the process when
 * its heap is full (only the stderr tail tells).
 */
import type { ExitCategory } from './rank-protocol.ts';

const OOM = new RegExp(
  [
    'out of memory',
    'OOM when allocating',
    'Array buffer allocation failed',
    'Cannot enlarge memory',
    'could not allocate memory',
    'Reached heap limit',
    'Allocation failed - JavaScript heap',
    'Invalid typed array length',
    'WebAssembly\\.Memory',
  ].join('|'),
  'i',
);

export function isOutOfMemory(e: unknown): boolean {
  const err = e as { message?: unknown; code?: unknown } | null;
  return err !== null && typeof err === 'object' && (OOM.test(String(err.message ?? '')) || err.code === 'ERR_MEMORY_ALLOCATION_FAILED');
}

export function outOfMemoryMessage(detail: string): string {
  return (
    `out of memory: the run's config needs more memory than this worker has (a smaller batchSize, model ` +
    `or image size fits): ${detail.split('\n')[0].slice(0, 300)}`
  );
}

/**
 * How a rank process ended, from its exit and its stderr tail: a V8 heap abort is the user's
 * out-of-memory, whatever the signal; otherwise `fallback` (the exit code's category) stands.
 */
export function classifyRankExit(fallback: ExitCategory, stderrTail: string): { category: ExitCategory; oomReason?: string } {
  if (fallback !== 'ok' && OOM.test(stderrTail)) {
    const line = stderrTail.split('\n').find((l) => OOM.test(l)) ?? 'out of memory';
    return { category: 'user', oomReason: outOfMemoryMessage(line.trim()) };
  }
  return { category: fallback };
}
