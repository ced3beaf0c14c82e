/**
 * What the engine needs from data parallelism. The CLI's single process uses `soloCollective`;
 * the Redis Streams implementation (libs/collective) provides the same interface to workers.
 */
export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** Average `data` across ranks, in place semantics: returns the averaged array. */
  allReduceMean(data: Float32Array): Promise<Float32Array>;
  /**
   * The mean written into `out` (may be `data`: in place) and returned; no result array is
   * allocated. Optional: without it the trainer takes `allReduceMean`'s fresh array.
   */
  allReduceMeanInto?(data: Float32Array, out: Float32Array): Promise<Float32Array>;
  /** Rank 0's bytes on every rank. */
  broadcast(data: Uint8Array): Promise<Uint8Array>;
  barrier(): Promise<void>;
  close(): Promise<void>;
}

export const soloCollective: Collective = {
  rank: 0,
  worldSize: 1,
  allReduceMean: async (d) => d,
  allReduceMeanInto: async (d, out) => {
    if (out !== d) out.set(d);
    return out;
  },
  broadcast: async (d) => d,
  barrier: async () => {},
  close: async () => {},
};
