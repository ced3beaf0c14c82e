/**
 * Data-parallel collectives over Redis Streams for one rank of a run's gang: rendezvous (in
 * `join`), all-reduce (reduce-scatter then all-gather, sums in rank order), broadcast and barrier.
 * Implements the engine's `Collective` interface structurally.
 *
 * Operations are numbered; every rank must call the same operations in the same order (as a
 * data-parallel training loop does). Calls made before the previous one settles are queued.
 * Any failure (timeout, Redis unreachable, protocol mismatch) leaves the gang out of step, so
 * every later operation on this instance rejects too: the run should restart from a checkpoint.
 */
import { allReduce } from './all-reduce.ts';
import { barrier } from './barrier.ts';
import { gatherSmall } from './gather-small.ts';
import { broadcast } from './broadcast.ts';
import { checkOut, overlaps } from './into-buffer.ts';
import { checkCanStart } from './op-guard.ts';
import { OpKeys } from './op-keys.ts';
import { Operation } from './operation.ts';
import { RedisLink } from './redis-link.ts';
import { RedisUnreachableError } from './redis-unreachable-error.ts';
import {
  resolveRedisCollectiveOptions,
  type RedisCollectiveOptions,
  type ResolvedRedisCollectiveOptions,
} from './redis-collective-options.ts';
import { rendezvous } from './rendezvous.ts';
import { wireFormat, type WireFormat } from './wire-format.ts';

export class RedisCollective {
  readonly rank: number;
  readonly worldSize: number;
  readonly runId: string;
  /** the Redis URL, password masked */
  readonly url: string;
  readonly wire: WireFormat;
  /** number of the last operation started (0 after the rendezvous) */
  private seq = 0;
  /** settles when the last queued operation has */
  private tail: Promise<unknown> = Promise.resolve();
  private broken: Error | undefined;
  /** the last operation's "done" count (not awaited by it): undefined, or the error it got */
  private counted: Promise<unknown> = Promise.resolve(undefined);
  private closing: Promise<void> | undefined;
  /** allReduceMeanInto in place: the mean before it is copied into `data` (reused) */
  private scratch: Float32Array | undefined;
  /** ms an operation key lives if the gang dies before deleting it: 2 timeouts + 1 min */
  private readonly ttlMs: number;

  private constructor(
    private readonly link: RedisLink,
    private readonly options: ResolvedRedisCollectiveOptions,
    /** this gang's random id, from the rendezvous */
    readonly generation: string,
  ) {
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.runId = options.runId;
    this.url = link.url;
    this.wire = wireFormat(options.wire);
    this.ttlMs = 2 * options.timeoutMs + 60_000;
  }

  /** `${keyPrefix}:${runId}:${generation}`: the root of this gang's keys */
  get keyBase(): string {
    return `${this.options.keyPrefix}:${this.runId}:${this.generation}`;
  }

  /**
   * Connects and waits for all `worldSize` ranks of `runId`. Rejects with a
   * CollectiveTimeoutError naming the ranks that never came, a RedisUnreachableError, or an
   * Error for a rank that joined twice or a worldSize that differs between ranks.
   */
  static async join(options: RedisCollectiveOptions): Promise<RedisCollective> {
    const o = resolveRedisCollectiveOptions(options);
    const link = new RedisLink(o.redisUrl, o.timeoutMs, `cim:${o.runId}:${o.rank}`);
    await link.connect(Math.min(o.timeoutMs, o.rendezvousTimeoutMs));
    try {
      const generation = await rendezvous(link, {
        keyPrefix: o.keyPrefix,
        runId: o.runId,
        rank: o.rank,
        worldSize: o.worldSize,
        timeoutMs: o.rendezvousTimeoutMs,
      });
      const c = new RedisCollective(link, o, generation);
      await link.writer.set(OpKeys.marker(c.keyBase, o.rank), 0, 'PX', c.ttlMs);
      return c;
    } catch (e) {
      const err = link.explain(e, `rendezvous for run ${o.runId}`);
      await link.close();
      throw err;
    }
  }

  /** Element-wise mean over ranks: float32 sum in rank order, then ÷ worldSize. Bit-identical on every rank. */
  allReduceMean(data: Float32Array): Promise<Float32Array> {
    return this.run('all-reduce', (op) => allReduce(op, data, 'mean', this.options.bucketBytes, this.wire));
  }

  /**
   * allReduceMean's result written into `out` (same length). `out` may be `data` (in place): the
   * chunks of `data` travel as views until the operation ends, so the mean is then computed into
   * a scratch array (kept for the next operation of the same length) and copied.
   */
  async allReduceMeanInto(data: Float32Array, out: Float32Array): Promise<Float32Array> {
    checkOut(data, out); // a rejection, and the gang is not broken
    return this.run('all-reduce', async (op) => {
      if (overlaps(data, out)) {
        if (this.scratch?.length !== data.length) this.scratch = new Float32Array(data.length);
        out.set(await allReduce(op, data, 'mean', this.options.bucketBytes, this.wire, this.scratch));
        return out;
      }
      return allReduce(op, data, 'mean', this.options.bucketBytes, this.wire, out);
    });
  }

  /** Element-wise float32 sum over ranks, in rank order. Bit-identical on every rank. */
  allReduceSum(data: Float32Array): Promise<Float32Array> {
    return this.run('all-reduce', (op) => allReduce(op, data, 'sum', this.options.bucketBytes, this.wire));
  }

  /** Rank 0's bytes on every rank (other ranks' `data` is ignored; pass an empty array). */
  broadcast(data: Uint8Array): Promise<Uint8Array> {
    return this.run('broadcast', (op) => broadcast(op, data, this.options.bucketBytes));
  }

  barrier(): Promise<void> {
    return this.run('barrier', (op) => barrier(op));
  }

  /** Every rank's small payload (one message each, e.g. its node name), indexed by rank, on every rank. */
  gatherSmall(data: Uint8Array): Promise<Uint8Array[]> {
    return this.run('gather', (op) => gatherSmall(op, data));
  }

  /** Disconnects (an operation in flight rejects) and removes this rank's progress marker. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.counted;
      if (this.link.writer.status === 'ready' && !(this.broken instanceof RedisUnreachableError)) {
        const keys = [OpKeys.marker(this.keyBase, this.rank)];
        // a failed operation's keys would otherwise wait for their TTL; the gang is over anyway
        if (this.broken) keys.push(...new OpKeys(this.keyBase, this.seq).all(this.worldSize));
        await this.link.writer.del(...keys).catch(() => {});
      }
      await this.link.close();
    })());
  }

  toString(): string {
    return `RedisCollective(run ${this.runId}, rank ${this.rank} of ${this.worldSize})`;
  }

  private run<T>(kind: string, body: (op: Operation) => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      checkCanStart(String(this), kind, this.closing, this.broken);
      const op = new Operation(
        this.link,
        kind,
        this.keyBase,
        ++this.seq,
        this.rank,
        this.worldSize,
        this.options.timeoutMs,
        this.ttlMs,
        this.options.memberNames,
      );
      try {
        const previous = await this.counted;
        if (previous) throw previous;
        const result = await body(op);
        this.counted = op.counted;
        return result;
      } catch (e) {
        const err = this.closing ? new Error(`${this} was closed during ${op.name}`) : this.link.explain(e, op.name);
        this.broken = err;
        throw err;
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }
}
