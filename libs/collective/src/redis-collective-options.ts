import { maskRedisUrl } from './redis-unreachable-error.ts';
import { WIRE_NAMES, type WireName } from './wire-format.ts';

/** How a rank joins a run's gang on a gradient Redis. Defaults are merged and checked once, in `resolveRedisCollectiveOptions`. */
export interface RedisCollectiveOptions {
  /** the gradient Redis; may be a different host from the queue's (default redis://127.0.0.1:6379) */
  redisUrl?: string;
  /** the run this gang trains; all keys live under `${keyPrefix}:${runId}:` */
  runId: string;
  /** 0 ≤ rank < worldSize */
  rank: number;
  /** ranks in the gang */
  worldSize: number;
  /** first segment of every key (default "cim") */
  keyPrefix?: string;
  /** ms one operation (all-reduce, broadcast, barrier) may take on this rank before it fails (default 60000) */
  timeoutMs?: number;
  /** ms all ranks have to join (default: timeoutMs) */
  rendezvousTimeoutMs?: number;
  /** float32 bytes per all-reduce bucket, and bytes per broadcast message (default 4 MiB) */
  bucketBytes?: number;
  /** element format on the wire; sums are always float32 (default "float32") */
  wire?: WireName;
  /** how timeout messages name member r (default "rank r"); e.g. "node 1 (leader rank 2)" */
  memberNames?: readonly string[];
}

export type ResolvedRedisCollectiveOptions = Required<Omit<RedisCollectiveOptions, 'memberNames'>> &
  Pick<RedisCollectiveOptions, 'memberNames'>;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function resolveRedisCollectiveOptions(o: RedisCollectiveOptions): ResolvedRedisCollectiveOptions {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const r: ResolvedRedisCollectiveOptions = {
    redisUrl: o.redisUrl ?? DEFAULT_REDIS_URL,
    runId: o.runId,
    rank: o.rank,
    worldSize: o.worldSize,
    keyPrefix: o.keyPrefix ?? 'cim',
    timeoutMs,
    rendezvousTimeoutMs: o.rendezvousTimeoutMs ?? timeoutMs,
    bucketBytes: o.bucketBytes ?? 4 * 1024 * 1024,
    wire: o.wire ?? 'float32',
    memberNames: o.memberNames,
  };
  const fail = (what: string) => {
    throw new Error(`RedisCollective: ${what}`);
  };
  if (typeof r.runId !== 'string' || !r.runId) fail(`runId must be a non-empty string, got ${JSON.stringify(r.runId)}`);
  if (typeof r.keyPrefix !== 'string' || !r.keyPrefix) fail(`keyPrefix must be a non-empty string, got ${JSON.stringify(r.keyPrefix)}`);
  if (!Number.isInteger(r.worldSize) || r.worldSize < 1) fail(`worldSize must be a positive integer, got ${r.worldSize}`);
  if (!Number.isInteger(r.rank) || r.rank < 0 || r.rank >= r.worldSize)
    fail(`rank must be an integer in [0, ${r.worldSize}), got ${r.rank}`);
  for (const k of ['timeoutMs', 'rendezvousTimeoutMs'] as const) {
    if (!Number.isFinite(r[k]) || r[k] <= 0) fail(`${k} must be a positive number of ms, got ${r[k]}`);
  }
  if (!Number.isInteger(r.bucketBytes) || r.bucketBytes < 4) fail(`bucketBytes must be an integer ≥ 4, got ${r.bucketBytes}`);
  if (!WIRE_NAMES.includes(r.wire)) fail(`wire must be one of ${WIRE_NAMES.join(', ')}, got ${JSON.stringify(r.wire)}`);
  if (r.memberNames && r.memberNames.length !== r.worldSize)
    fail(`memberNames must name all ${r.worldSize} members, got ${r.memberNames.length}`);
  try {
    const u = new URL(r.redisUrl);
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error();
  } catch {
    fail(`redisUrl must be a redis:// or rediss:// URL, got ${JSON.stringify(maskRedisUrl(r.redisUrl))}`);
  }
  return r;
}
