/** Barrier: every rank adds one entry (header = its rank) to one stream and reads until it has seen all N. */
import type { Operation } from './operation.ts';

export async function barrier(op: Operation): Promise<void> {
  const key = op.keys.barrier;
  const seen = new Set<number>();
  op.add(key, String(op.rank));
  await op.read([{ key, remaining: op.worldSize, onEntry: (h) => void seen.add(Number(h)) }], 0, () =>
    Array.from({ length: op.worldSize }, (_, r) => r).filter((r) => !seen.has(r)),
  );
  await op.finish([key]);
}
