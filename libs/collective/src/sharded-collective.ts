/**
 * One gang over K Redis servers (shards): every all-reduce cuts the flat array into K contiguous
 * slices of (nearly) equal length and all-reduces slice k through shard k, all K at once, so each
 * rank talks to every shard in parallel and each server carries 1/K of the bytes. Each shard is a
 * RedisCollective of its own (own rendezvous, connections, keys under `${runId}:shard-k-of-K`).
 * Sums stay in rank order element by element, so the result has the same bits as one shard gives.
 * Broadcast, barrier and gather go through shard 0 (they are small or once per run).
 * Any failure on any shard breaks the whole collective (the gang restarts from a checkpoint).
 */
import type { GangCollective } from './gang-collective.ts';
import { checkOut } from './into-buffer.ts';
import { RedisCollective } from './redis-collective.ts';
import type { RedisCollectiveOptions } from './redis-collective-options.ts';

export interface ShardedCollectiveOptions extends Omit<RedisCollectiveOptions, 'redisUrl'> {
  /** the K gradient Redis servers, the same list in the same order on every rank */
  redisUrls: readonly string[];
}

export class ShardedCollective implements GangCollective {
  readonly rank: number;
  readonly worldSize: number;
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(readonly shards: readonly RedisCollective[]) {
    this.rank = shards[0].rank;
    this.worldSize = shards[0].worldSize;
  }

  get shardCount(): number {
    return this.shards.length;
  }

  /** Joins the gang on every shard at once; if one join fails, the others are closed and the first error is thrown. */
  static async join(o: ShardedCollectiveOptions): Promise<ShardedCollective> {
    const { redisUrls, ...rest } = o;
    if (!redisUrls.length) throw new Error('ShardedCollective: redisUrls must name at least one Redis');
    const K = redisUrls.length;
    const joins = await Promise.allSettled(
      redisUrls.map((redisUrl, k) =>
        RedisCollective.join({ ...rest, redisUrl, runId: K === 1 ? o.runId : `${o.runId}:shard-${k}-of-${K}` }),
      ),
    );
    const failed = joins.find((j) => j.status === 'rejected');
    if (failed) {
      await Promise.all(joins.map((j) => (j.status === 'fulfilled' ? j.value.close() : undefined)));
      throw failed.reason;
    }
    return new ShardedCollective(joins.map((j) => (j as PromiseFulfilledResult<RedisCollective>).value));
  }

  allReduceMean(data: Float32Array): Promise<Float32Array> {
    return this.spread(data, (c, slice) => c.allReduceMean(slice));
  }

  /** allReduceMean into `out` (may be `data`: in place); each shard writes its slice of `out` */
  async allReduceMeanInto(data: Float32Array, out: Float32Array): Promise<Float32Array> {
    checkOut(data, out); // a rejection, and the gang is not broken
    const b = this.bounds(data.length);
    return this.spread(data, (c, slice, k) => c.allReduceMeanInto(slice, b.length === 2 ? out : out.subarray(b[k], b[k + 1])), out);
  }

  allReduceSum(data: Float32Array): Promise<Float32Array> {
    return this.spread(data, (c, slice) => c.allReduceSum(slice));
  }

  broadcast(data: Uint8Array): Promise<Uint8Array> {
    return this.guard(() => this.shards[0].broadcast(data));
  }

  barrier(): Promise<void> {
    return this.guard(() => this.shards[0].barrier());
  }

  gatherSmall(data: Uint8Array): Promise<Uint8Array[]> {
    return this.guard(() => this.shards[0].gatherSmall(data));
  }

  close(): Promise<void> {
    return (this.closing ??= Promise.all(this.shards.map((s) => s.close())).then(() => {}));
  }

  toString(): string {
    return `ShardedCollective(rank ${this.rank} of ${this.worldSize} over ${this.shards.length} Redis)`;
  }

  /** slice k of n elements: [floor(k·n/K), floor((k+1)·n/K)) */
  private bounds(n: number): number[] {
    const K = this.shards.length;
    return Array.from({ length: K + 1 }, (_, k) => Math.floor((k * n) / K));
  }

  /** each shard reduces its slice; the slices land in `into` (a fresh array if omitted; a shard that wrote its slice there already is not copied) */
  private spread(
    data: Float32Array,
    reduce: (c: RedisCollective, slice: Float32Array, k: number) => Promise<Float32Array>,
    into?: Float32Array,
  ): Promise<Float32Array> {
    return this.guard(async () => {
      const K = this.shards.length;
      if (K === 1) return reduce(this.shards[0], data, 0);
      const bounds = this.bounds(data.length);
      const parts = await Promise.all(this.shards.map((c, k) => reduce(c, data.subarray(bounds[k], bounds[k + 1]), k)));
      const out = into ?? new Float32Array(data.length);
      parts.forEach((p, k) => {
        if (p.buffer !== out.buffer || p.byteOffset !== out.byteOffset + bounds[k] * 4) out.set(p, bounds[k]);
      });
      return out;
    });
  }

  private async guard<T>(body: () => Promise<T>): Promise<T> {
    if (this.closing) throw new Error(`${this} is closed`);
    if (this.broken)
      throw new Error(`${this}: an earlier operation failed, so this rank is out of step with its gang (${this.broken.message})`);
    try {
      return await body();
    } catch (e) {
      this.broken ??= e as Error;
      throw e;
    }
  }
}
