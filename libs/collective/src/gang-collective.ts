/** What every collective of this lib offers one rank (the engine's `Collective`, structurally, plus a sum). */
export interface GangCollective {
  readonly rank: number;
  readonly worldSize: number;
  /** element-wise mean over ranks; a new array, the same bits on every rank */
  allReduceMean(data: Float32Array): Promise<Float32Array>;
  /**
   * The same mean written into `out`, the caller's array (same length; may be `data` itself, for
   * an in-place all-reduce), which it returns: a caller that reuses its buffers step after step
   * has the all-reduce allocate no result (a fresh 344 MB array costs seconds of page faults).
   */
  allReduceMeanInto(data: Float32Array, out: Float32Array): Promise<Float32Array>;
  /** rank 0's bytes on every rank (other ranks pass an empty array) */
  broadcast(data: Uint8Array): Promise<Uint8Array>;
  barrier(): Promise<void>;
  /** idempotent */
  close(): Promise<void>;
}
