/**
 * How an all-reduce cuts a flat array [length] into buckets and each bucket into `worldSize`
 * contiguous chunks. Every rank builds the same plan from (length, worldSize, bucketBytes), so
 * chunk boundaries never travel on the wire. Rank j reduces chunk j of every bucket.
 *
 * Bucket b covers elements [b·E, min(length, (b+1)·E)) with E = floor(bucketBytes / 4) (float32
 * elements, whatever the wire format); chunk j of a bucket of n elements covers
 * [floor(j·n/N), floor((j+1)·n/N)) of it, so chunk sizes differ by at most one and some chunks
 * are empty when n < N. Empty chunks are never sent.
 */
export class BucketPlan {
  /** float32 elements per full bucket */
  readonly bucketElements: number;
  readonly bucketCount: number;

  constructor(
    readonly length: number,
    readonly worldSize: number,
    bucketBytes: number,
  ) {
    if (!Number.isInteger(length) || length < 0) throw new Error(`BucketPlan: length must be a non-negative integer, got ${length}`);
    if (!Number.isInteger(worldSize) || worldSize < 1)
      throw new Error(`BucketPlan: worldSize must be a positive integer, got ${worldSize}`);
    this.bucketElements = Math.max(1, Math.floor(bucketBytes / 4));
    this.bucketCount = Math.ceil(length / this.bucketElements);
  }

  /** Element range [start, end) of bucket `b`. */
  bucket(b: number): { start: number; end: number } {
    const start = b * this.bucketElements;
    return { start, end: Math.min(this.length, start + this.bucketElements) };
  }

  /** Element range [start, end) of chunk `j` of bucket `b`, in the whole array's indices. */
  chunk(b: number, j: number): { start: number; end: number } {
    const { start, end } = this.bucket(b);
    const n = end - start;
    return { start: start + Math.floor((j * n) / this.worldSize), end: start + Math.floor(((j + 1) * n) / this.worldSize) };
  }

  /** Buckets whose chunk `j` is non-empty (the reduced chunks rank j publishes). */
  bucketsWithChunk(j: number): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.bucketCount; b++) {
      const c = this.chunk(b, j);
      if (c.end > c.start) out.push(b);
    }
    return out;
  }
}
