/**
 * A collective operation (rendezvous, all-reduce, broadcast, barrier) did not complete in time.
 * `missingRanks` are the ranks this rank was still waiting for: the ones to look at (dead,
 * hung, or out of step).
 */
export class CollectiveTimeoutError extends Error {
  override readonly name = 'CollectiveTimeoutError';

  constructor(
    message: string,
    /** e.g. "all-reduce 17" or "rendezvous for run X" */
    readonly operation: string,
    readonly timeoutMs: number,
    readonly missingRanks: readonly number[],
  ) {
    super(message);
  }
}

/** "rank 1" / "ranks 2, 3", or the members' own names ("node 1 (leader rank 2)") when given */
export function rankList(ranks: readonly number[], names?: readonly string[]): string {
  if (names) return ranks.map((r) => names[r]).join(', ');
  return `${ranks.length === 1 ? 'rank' : 'ranks'} ${ranks.join(', ')}`;
}
