/**
 * Key names of one collective operation. `base` is `${keyPrefix}:${runId}:${generation}`: a
 * restarted gang gets a fresh generation from its rendezvous, so it never reads a dead gang's keys.
 * Every key here is deleted by the last rank to finish the operation (and expires otherwise).
 */
export class OpKeys {
  readonly op: string;

  constructor(
    readonly base: string,
    /** operation number, the same on every rank (ranks run the same operations in the same order) */
    readonly seq: number,
  ) {
    this.op = `${base}:op:${seq}`;
  }

  /** stream: ranks' chunk j of every bucket, read by reducer j */
  reduceScatter(j: number): string {
    return `${this.op}:rs:${j}`;
  }

  /** stream: reducer j's reduced chunks, read by every other rank */
  allGather(j: number): string {
    return `${this.op}:ag:${j}`;
  }

  /** stream: rank 0's payload in messages of bucketBytes */
  get broadcast(): string {
    return `${this.op}:bc`;
  }

  /** stream: one entry per rank */
  get barrier(): string {
    return `${this.op}:bar`;
  }

  /** stream: one small payload per rank (gatherSmall) */
  get gather(): string {
    return `${this.op}:gather`;
  }

  /** counter of ranks done with the operation */
  get done(): string {
    return `${this.op}:done`;
  }

  /** every key an operation of any kind may create, for a world of `worldSize` */
  all(worldSize: number): string[] {
    const keys = [this.broadcast, this.barrier, this.gather, this.done];
    for (let j = 0; j < worldSize; j++) keys.push(this.reduceScatter(j), this.allGather(j));
    return keys;
  }

  /** string: the last operation number rank `rank` started (for timeout messages) */
  static marker(base: string, rank: number): string {
    return `${base}:at:${rank}`;
  }
}
