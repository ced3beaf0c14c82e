/**
 * A node-local group failed: a peer's connection closed (its process died), or the node leader
 * relayed the failure of its cross-node operation. `lostRanks` names the ranks that are gone
 * (empty for a relayed failure). Like a Redis failure, it leaves the gang out of step: the run
 * should restart from its last checkpoint.
 */
export class NodeLocalError extends Error {
  override readonly name = 'NodeLocalError';

  constructor(
    message: string,
    readonly lostRanks: readonly number[],
  ) {
    super(message);
  }
}
