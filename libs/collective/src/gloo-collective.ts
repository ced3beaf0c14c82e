/**
 * A gang over Gloo (transport `gloo`): the collective library behind PyTorch's CPU backend, from
 * Debian's libgloo-dev, through libs/collective/native/gloo/cim_gloo.cc (built by postinstall,
 * scripts/native-gloo.mjs; optional). Ranks rendezvous through our Redis (Gloo's RedisStore,
 * keys under `${keyPrefix}:${runId}:${generation}:gloo/`), then connect a full mesh of TCP pairs
 * and move every byte rank to rank; Redis carries nothing after the rendezvous.
 *
 *  - all-reduce: Gloo's float32 sum, in place, on a worker thread, then ÷ worldSize here. Every
 *    algorithm offered reduces each element on one rank and copies the result to the others
 *    (ring: reduce-scatter then all-gather), so every rank ends with the same bits (the tests
 *    check it); the sum order is Gloo's, not rank order, so the bits differ from transport redis.
 *  - broadcast and barrier: Gloo's (broadcast sends the length first, then the bytes).
 *  - failures: Gloo names peers by address, not rank. After a failed op (a peer's socket closed,
 *    an op past timeoutMs) each surviving rank reports to a Redis set and waits up to
 *    POSTMORTEM_MS for the others; the ranks that never report are the dead or hung ones, named
 *    in the CollectiveTimeoutError. The gang is then broken (every later op rejects), as with
 *    RedisCollective: the run restarts from a checkpoint.
 *
 * Without `generation`, join first meets the gang through RedisCollective's rendezvous (which
 * names ranks that never come and gives a fresh generation, so a restarted gang never reads a
 * dead one's keys); NodeLocalCollective's leaders pass the generation they already share.
 */
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { CollectiveTimeoutError, rankList } from './collective-timeout-error.ts';
import type { GangCollective } from './gang-collective.ts';
import { checkOut } from './into-buffer.ts';
import { checkCanStart } from './op-guard.ts';
import { RedisCollective } from './redis-collective.ts';
import { DEFAULT_REDIS_URL } from './redis-collective-options.ts';
import { maskRedisUrl } from './redis-unreachable-error.ts';
import { sumInRankOrder } from './sum-in-rank-order.ts';

export const GLOO_ALGORITHMS = ['ring', 'ring-chunked', 'halving-doubling'] as const;
export type GlooAlgorithm = (typeof GLOO_ALGORITHMS)[number];

export interface GlooCollectiveOptions {
  /** rendezvous store (default redis://127.0.0.1:6379); Gloo's RedisStore speaks no AUTH and uses db 0 */
  redisUrl?: string;
  runId: string;
  /** first segment of every key (default "cim") */
  keyPrefix?: string;
  /** this gang's generation, the same on every rank (omit: a RedisCollective rendezvous picks one) */
  generation?: number | string;
  rank: number;
  worldSize: number;
  /** address this rank listens on (a veth address inside a namespace; default 127.0.0.1) */
  host?: string;
  /** hang timeout for every op and for rendezvous (default 60000) */
  timeoutMs?: number;
  /** ms all ranks have to meet in the RedisCollective rendezvous, when no generation is given (default timeoutMs) */
  rendezvousTimeoutMs?: number;
  /** Gloo's all-reduce (default "ring") */
  algorithm?: GlooAlgorithm;
  /** how messages name member r (default "rank r") */
  memberNames?: readonly string[];
}

interface GlooAddon {
  connect(o: {
    host: string;
    redisHost: string;
    redisPort: number;
    prefix: string;
    rank: number;
    size: number;
    timeoutMs: number;
  }): Promise<object>;
  allReduce(gang: object, data: Float32Array, algorithm: number, timeoutMs: number): Promise<void>;
  broadcast(gang: object, data: Uint8Array, root: number, timeoutMs: number): Promise<void>;
  barrier(gang: object, timeoutMs: number): Promise<void>;
  close(gang: object): void;
}

const ADDON_PATH = '../native/gloo/build/Release/cim_gloo.node';
let addon: GlooAddon | undefined;
let addonError: string | undefined;

function loadAddon(): GlooAddon | undefined {
  if (addon || addonError) return addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as GlooAddon;
  } catch (e) {
    addonError = (e instanceof Error ? e.message : String(e)).split('\n')[0]; // not the require stack
  }
  return addon;
}

/** whether the Gloo addon is built and loads (transport `gloo` is possible) */
export function glooAvailable(): boolean {
  return loadAddon() !== undefined;
}

/** why transport `gloo` is refused, for messages (undefined when the addon loads) */
export function glooUnavailableReason(): string | undefined {
  if (loadAddon()) return undefined;
  return (
    `the Gloo addon (libs/collective/native/gloo) is not built: install Debian's libgloo-dev and libhiredis-dev, ` +
    `then run \`node scripts/native-gloo.mjs\` (${addonError})`
  );
}

/**
 * After a failed op, a rank waits for the others' reports until the op's timeout has passed (a
 * survivor that saw no closed socket notices only then) plus this grace (at most timeoutMs), ms.
 */
const POSTMORTEM_GRACE_MS = 2000;

export class GlooCollective implements GangCollective {
  readonly rank: number;
  readonly worldSize: number;
  private seq = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;
  /** when the last Gloo call started (Date.now()) */
  private callStarted = 0;

  private constructor(
    private readonly gang: object | undefined,
    private readonly redis: Redis,
    private readonly o: ReturnType<typeof resolve>,
    /** `${keyPrefix}:${runId}:${generation}:gloo`: Gloo's keys are `${prefix}/…` */
    readonly prefix: string,
  ) {
    this.rank = o.rank;
    this.worldSize = o.worldSize;
  }

  /** Joins the gang; rejects with a CollectiveTimeoutError naming the ranks that never came. */
  static async join(options: GlooCollectiveOptions): Promise<GlooCollective> {
    const g = loadAddon();
    if (!g) throw new Error(`GlooCollective: ${glooUnavailableReason()}`);
    const o = resolve(options);
    const url = new URL(o.redisUrl);
    let generation = options.generation;
    if (generation === undefined && o.worldSize > 1) {
      const world = await RedisCollective.join({ ...o, memberNames: o.memberNames });
      generation = world.generation;
      await world.close();
    }
    const prefix = `${o.keyPrefix}:${o.runId}:${generation ?? 0}:gloo`;
    const redis = new Redis(o.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, protocol: 2 });
    await redis.connect();
    if (o.worldSize === 1) return new GlooCollective(undefined, redis, o, prefix);
    const ownKeys = [`${prefix}/${o.rank}`, `${prefix}/rank_${o.rank}`];
    let gang: object | undefined;
    // Gloo writes its keys with SETNX, no TTL: give ours one as soon as they exist, so that a rank
    // killed during the rendezvous leaves nothing behind for long
    const ttl = ttlOnceSet(redis, ownKeys, 2 * o.timeoutMs + 60_000);
    try {
      gang = await g.connect({
        host: o.host,
        redisHost: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        redisPort: Number(url.port || 6379),
        prefix,
        rank: o.rank,
        size: o.worldSize,
        timeoutMs: o.timeoutMs,
      });
      // every rank has read every address once all are past this barrier: the keys can go
      await g.barrier(gang, o.timeoutMs);
    } catch (e) {
      if (gang) g.close(gang);
      await ttl.stop();
      await redis.del(...ownKeys).catch(() => {});
      redis.disconnect();
      throw rendezvousError(e, prefix, o);
    }
    await ttl.stop();
    await redis.del(...ownKeys);
    return new GlooCollective(gang, redis, o, prefix);
  }

  /** Element-wise mean over ranks (Gloo's float32 sum ÷ worldSize): the same bits on every rank. */
  allReduceMean(data: Float32Array): Promise<Float32Array> {
    return this.allReduceMeanInto(data, new Float32Array(data.length));
  }

  async allReduceMeanInto(data: Float32Array, out: Float32Array): Promise<Float32Array> {
    checkOut(data, out); // a rejection, and the gang is not broken
    return this.run('all-reduce', async () => {
      if (out !== data) out.set(data);
      await this.sumInPlace(out);
      return sumInRankOrder([out], out, this.worldSize);
    });
  }

  /** Element-wise float32 sum over ranks, in a new array (NodeLocalCollective's cross-node hop). */
  allReduceSum(data: Float32Array): Promise<Float32Array> {
    return this.run('all-reduce', async () => {
      const sum = data.slice();
      await this.sumInPlace(sum);
      return sum;
    });
  }

  broadcast(data: Uint8Array): Promise<Uint8Array> {
    return this.run('broadcast', async () => {
      if (!this.gang) return data;
      const length = new Uint8Array(8);
      if (this.rank === 0) new DataView(length.buffer).setBigUint64(0, BigInt(data.length));
      this.callStarted = Date.now();
      await addon!.broadcast(this.gang, length, 0, this.o.timeoutMs);
      const n = Number(new DataView(length.buffer).getBigUint64(0));
      const bytes = this.rank === 0 ? data : new Uint8Array(n);
      this.callStarted = Date.now();
      if (n > 0) await addon!.broadcast(this.gang, bytes, 0, this.o.timeoutMs);
      return bytes;
    });
  }

  barrier(): Promise<void> {
    return this.run('barrier', async () => {
      this.callStarted = Date.now();
      if (this.gang) await addon!.barrier(this.gang, this.o.timeoutMs);
    });
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.tail;
      if (this.gang) addon!.close(this.gang);
      await this.redis.del(`${this.prefix}/${this.rank}`, `${this.prefix}/rank_${this.rank}`).catch(() => {});
      this.redis.disconnect();
    })());
  }

  toString(): string {
    return `GlooCollective(run ${this.o.runId}, rank ${this.rank} of ${this.worldSize}, ${this.o.algorithm})`;
  }

  private async sumInPlace(data: Float32Array): Promise<void> {
    this.callStarted = Date.now();
    if (this.gang && data.length) await addon!.allReduce(this.gang, data, GLOO_ALGORITHMS.indexOf(this.o.algorithm), this.o.timeoutMs);
  }

  private run<T>(kind: string, body: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      checkCanStart(String(this), kind, this.closing, this.broken);
      const seq = ++this.seq;
      try {
        return await body();
      } catch (e) {
        this.broken = await this.postmortem(`${kind} ${seq}`, e);
        throw this.broken;
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }

  /**
   * After a failed op: which ranks do not report a failure of their own (dead or hung)? One set
   * per gang, not per op: survivors may fail one op apart, and the gang is over either way.
   */
  private async postmortem(operation: string, cause: unknown): Promise<Error> {
    const why = cause instanceof Error ? cause.message : String(cause);
    const key = `${this.prefix}:failed`;
    const graceMs = Math.min(POSTMORTEM_GRACE_MS, this.o.timeoutMs);
    let reported: number[] = [];
    try {
      await this.redis
        .multi()
        .sadd(key, this.rank)
        .pexpire(key, this.o.timeoutMs + 60_000)
        .exec();
      const deadline = Math.max(Date.now() + 100, this.callStarted + this.o.timeoutMs + graceMs);
      do {
        reported = (await this.redis.smembers(key)).map(Number);
        if (reported.length >= this.worldSize) break;
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() < deadline);
    } catch {
      reported = [this.rank]; // Redis is gone too: name nobody for sure
    }
    const all = Array.from({ length: this.worldSize }, (_, r) => r);
    const missing = all.filter((r) => !reported.includes(r));
    const names = this.o.memberNames;
    const who = missing.length
      ? `${rankList(missing, names)} did not report back by the op's timeout + ${graceMs} ms (dead or hung)`
      : `every rank reported after the failure (${rankList(all, names)}): ranks out of step?`;
    return new CollectiveTimeoutError(
      `${this} ${operation} failed (Gloo: ${why.trim()}); ${who}`,
      `gloo ${operation}`,
      this.o.timeoutMs,
      missing,
    );
  }
}

/** Sets a TTL on each of `keys` once it exists (polls every 50 ms until `stop`). */
function ttlOnceSet(redis: Redis, keys: string[], ttlMs: number): { stop(): Promise<void> } {
  const pending = new Set(keys);
  let stopped = false;
  const loop = (async () => {
    while (!stopped && pending.size) {
      for (const k of [...pending]) if ((await redis.pexpire(k, ttlMs).catch(() => 0)) === 1) pending.delete(k);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

function resolve(o: GlooCollectiveOptions) {
  const r = {
    redisUrl: o.redisUrl ?? DEFAULT_REDIS_URL,
    runId: o.runId,
    keyPrefix: o.keyPrefix ?? 'cim',
    rank: o.rank,
    worldSize: o.worldSize,
    host: o.host ?? '127.0.0.1',
    timeoutMs: o.timeoutMs ?? 60_000,
    rendezvousTimeoutMs: o.rendezvousTimeoutMs ?? o.timeoutMs ?? 60_000,
    algorithm: o.algorithm ?? 'ring',
    memberNames: o.memberNames,
  };
  const fail = (what: string) => {
    throw new Error(`GlooCollective: ${what}`);
  };
  if (typeof r.runId !== 'string' || !r.runId) fail(`runId must be a non-empty string, got ${JSON.stringify(r.runId)}`);
  if (!Number.isInteger(r.worldSize) || r.worldSize < 1) fail(`worldSize must be a positive integer, got ${r.worldSize}`);
  if (!Number.isInteger(r.rank) || r.rank < 0 || r.rank >= r.worldSize)
    fail(`rank must be an integer in [0, ${r.worldSize}), got ${r.rank}`);
  for (const k of ['timeoutMs', 'rendezvousTimeoutMs'] as const)
    if (!Number.isFinite(r[k]) || r[k] <= 0) fail(`${k} must be a positive number of ms, got ${r[k]}`);
  if (!GLOO_ALGORITHMS.includes(r.algorithm))
    fail(`algorithm must be one of ${GLOO_ALGORITHMS.join(', ')}, got ${JSON.stringify(r.algorithm)}`);
  if (r.memberNames && r.memberNames.length !== r.worldSize)
    fail(`memberNames must name all ${r.worldSize} members, got ${r.memberNames.length}`);
  let url: URL | undefined;
  try {
    url = new URL(r.redisUrl);
  } catch {
    /* below */
  }
  if (!url || url.protocol !== 'redis:') fail(`redisUrl must be a redis:// URL, got ${JSON.stringify(maskRedisUrl(r.redisUrl))}`);
  else if (url.username || url.password || (url.pathname && url.pathname !== '/' && url.pathname !== '/0'))
    fail(
      `Gloo's Redis store cannot authenticate or pick a database: give a redis://host:port URL (got ${JSON.stringify(maskRedisUrl(r.redisUrl))})`,
    );
  return r;
}

/** Gloo's "Wait timeout for key(s): <prefix>/2, …" → a CollectiveTimeoutError naming those ranks */
function rendezvousError(e: unknown, prefix: string, o: ReturnType<typeof resolve>): Error {
  const why = e instanceof Error ? e.message : String(e);
  if (!/timeout|timed out/i.test(why)) return new Error(`GlooCollective rank ${o.rank}: rendezvous for run ${o.runId} failed: ${why}`);
  const missing = [...why.matchAll(new RegExp(`${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(\\d+)`, 'g'))].map((m) => Number(m[1]));
  const unique = [...new Set(missing)].sort((a, b) => a - b);
  const who = unique.length ? `; ${rankList(unique, o.memberNames)} never came` : '';
  return new CollectiveTimeoutError(
    `GlooCollective rank ${o.rank}: rendezvous for run ${o.runId} timed out after ${o.timeoutMs} ms${who} (Gloo: ${why.trim()})`,
    `gloo rendezvous for run ${o.runId}`,
    o.timeoutMs,
    unique,
  );
}
