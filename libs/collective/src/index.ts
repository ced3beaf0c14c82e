export { RedisCollective } from './redis-collective.ts';
export { DEFAULT_REDIS_URL, resolveRedisCollectiveOptions, type RedisCollectiveOptions, type ResolvedRedisCollectiveOptions } from './redis-collective-options.ts';
export { CollectiveTimeoutError } from './collective-timeout-error.ts';
export { RedisUnreachableError, maskRedisUrl } from './redis-unreachable-error.ts';
export { BucketPlan } from './bucket-plan.ts';
export { decodeFloat16, encodeFloat16, float16BitsToFloat32, float32ToFloat16Bits } from './float16.ts';
