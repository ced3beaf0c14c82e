/**
 * The one way services join a gang: picks the collective from what the rank knows.
 *  - `nodeName` given: NodeLocalCollective (sum on the node, only node leaders talk to Redis),
 *    over the K servers of `redisUrls`;
 *  - else K > 1 servers: ShardedCollective;
 *  - else: RedisCollective on the one server.
 * `transport: 'gloo'` moves the bytes with Gloo instead of Redis Streams (GlooCollective; Redis
 * only for the rendezvous): the whole gang when flat, the node leaders' cross-node hop under
 * `nodeName`. Refused with the reason when the Gloo addon is not built.
 * `wire: 'auto'` (the default) is bfloat16 for the cross-node hop of a NodeLocalCollective (the
 * traffic that crosses a network: half the bytes, float32's range, float32 sums) and float32
 * everywhere else (node-local traffic is never rounded; a flat gang keeps today's exact bits).
 */
import type { GangCollective } from './gang-collective.ts';
import { GlooCollective, glooUnavailableReason, type GlooAlgorithm } from './gloo-collective.ts';
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
  /** who sums inside a node on shared memory: `scatter` (default: every rank 1/G) or `leader` (NodeLocalCollective's `shmReduce`) */
  shmReduce?: 'scatter' | 'leader';
  /** element format on the Redis wire (default "auto", above); transport gloo always sends float32 */
  wire?: WireName | 'auto';
  /** what carries the all-reduce's bytes (default "redis") */
  transport?: TransportName;
  /** transport gloo: the address this rank listens on (default 127.0.0.1) */
  glooHost?: string;
  /** transport gloo: Gloo's all-reduce algorithm (default "ring") */
  glooAlgorithm?: GlooAlgorithm;
}

export const TRANSPORT_NAMES = ['redis', 'gloo'] as const;
export type TransportName = (typeof TRANSPORT_NAMES)[number];

/** undefined when `transport` can be used on this machine, else why not */
export function transportProblem(transport: TransportName | undefined): string | undefined {
  if (transport === undefined || transport === 'redis') return undefined;
  if (transport !== 'gloo') return `transport must be one of ${TRANSPORT_NAMES.join(', ')}, got ${JSON.stringify(transport)}`;
  const why = glooUnavailableReason();
  return why && `transport gloo: ${why}`;
}

export function resolveWire(wire: WireName | 'auto' | undefined, nodeLocal: boolean): WireName {
  return !wire || wire === 'auto' ? (nodeLocal ? 'bfloat16' : 'float32') : wire;
}

export function joinCollective(o: JoinCollectiveOptions): Promise<GangCollective> {
  const { redisUrls, nodeName, socketDir, shmDir, shmReduce, wire, transport, glooHost, glooAlgorithm, ...rest } = o;
  if (!redisUrls.length) throw new Error('joinCollective: redisUrls must name at least one Redis');
  const problem = transportProblem(transport);
  if (problem) return Promise.reject(new Error(`joinCollective: ${problem}`));
  const w = resolveWire(wire, nodeName !== undefined);
  const gloo = transport === 'gloo' ? { host: glooHost, algorithm: glooAlgorithm } : undefined;
  if (nodeName !== undefined)
    return NodeLocalCollective.join({ ...rest, redisUrls, nodeName, socketDir, shmDir, shmReduce, wire: w, gloo });
  if (gloo) return GlooCollective.join({ ...rest, ...gloo, redisUrl: redisUrls[0] });
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
