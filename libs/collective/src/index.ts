export { RedisCollective } from './redis-collective.ts';
export {
  GLOO_ALGORITHMS,
  GlooCollective,
  glooAvailable,
  glooUnavailableReason,
  type GlooAlgorithm,
  type GlooCollectiveOptions,
} from './gloo-collective.ts';
export {
  DEFAULT_REDIS_URL,
  resolveRedisCollectiveOptions,
  type RedisCollectiveOptions,
  type ResolvedRedisCollectiveOptions,
} from './redis-collective-options.ts';
export { CollectiveTimeoutError } from './collective-timeout-error.ts';
export { RedisUnreachableError, maskRedisUrl } from './redis-unreachable-error.ts';
export { BucketPlan } from './bucket-plan.ts';
export { decodeFloat16, encodeFloat16, float16BitsToFloat32, float32ToFloat16Bits } from './float16.ts';
export {
  joinCollective,
  parseRedisUrlList,
  resolveWire,
  TRANSPORT_NAMES,
  transportProblem,
  type JoinCollectiveOptions,
  type TransportName,
} from './join-collective.ts';
export type { GangCollective } from './gang-collective.ts';
export { ShardedCollective, type ShardedCollectiveOptions } from './sharded-collective.ts';
export { NodeLocalCollective, nodeTopology, type NodeLocalCollectiveOptions, type NodeTopology } from './node-local-collective.ts';
export { sumInRankOrder, sumInRankOrderScalar } from './sum-in-rank-order.ts';
export { shmAccess, useShmAccess } from './shm-lane.ts';
export { simdAvailable, useSimdKernels } from './simd-kernels.ts';
export { WIRE_NAMES, type WireName } from './wire-format.ts';
export { decodeBfloat16, encodeBfloat16 } from './bfloat16.ts';
export { startLocalRedisServers, type LocalRedisServers } from './local-redis-servers.ts';
export { NodeLocalError } from './node-local-error.ts';
