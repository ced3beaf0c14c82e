/**
 * The one way services join a gang: picks the collective from what the rank knows.
 *  - `nodeName` given: NodeLocalCollective (sum on the node, only node leaders talk to Redis),
 *    over the K servers of `redisUrls`;
 *  - else K > 1 servers: ShardedCollective;
 *  - else: RedisCollective on the one server.
 * `wire: 'auto'` (the default) is bfloat16 for the cross-node hop of a NodeLocalCollective (the
 * traffic that crosses a network: half the bytes, float32's range, float32 sums) and float32
 * everywhere else (node-local traffic is never rounded; a flat gang keeps today's exact bits).
 */
import type { GangCollective } from './gang-collective.ts';
import { NodeLocalCollective } from './node-local-collective.ts';
import { RedisCollective } from './redis-collective.ts';
import type { RedisCollectiveOptions } from './redis-collective-options.ts';
import { ShardedCollective } from './sharded-collective.ts';
import type { WireName } from './wire-format.ts';

export interface JoinCollectiveOptions extends Omit<RedisCollectiveOptions, 'redisUrl' | 'memberNames' | 'wire'> {
  /** the gradient Redis servers (K ≥ 1), the same list in the same order on every rank */
  redisUrls: readonly string[];
  /** this rank's node; ranks that share it reduce locally first (omit: every rank talks to Redis) */
  nodeName?: string;
  /** where a node's Unix sockets live (default os.tmpdir()); must be shared by a node's ranks */
  socketDir?: string;
  /** where a node's shared-memory files live (NodeLocalCollective's `shmDir`; `none`: sockets only) */
  shmDir?: string;
  /** element format on the Redis wire (default "auto", above) */
  wire?: WireName | 'auto';
}

export function resolveWire(wire: WireName | 'auto' | undefined, nodeLocal: boolean): WireName {
  return !wire || wire === 'auto' ? (nodeLocal ? 'bfloat16' : 'float32') : wire;
}

export function joinCollective(o: JoinCollectiveOptions): Promise<GangCollective> {
  const { redisUrls, nodeName, socketDir, shmDir, wire, ...rest } = o;
  if (!redisUrls.length) throw new Error('joinCollective: redisUrls must name at least one Redis');
  const w = resolveWire(wire, nodeName !== undefined);
  if (nodeName !== undefined) return NodeLocalCollective.join({ ...rest, redisUrls, nodeName, socketDir, shmDir, wire: w });
  if (redisUrls.length > 1) return ShardedCollective.join({ ...rest, redisUrls, wire: w });
  return RedisCollective.join({ ...rest, redisUrl: redisUrls[0], wire: w });
}

/** "redis://a:6379,redis://b:6379" → the list (blank entries dropped) */
export function parseRedisUrlList(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
