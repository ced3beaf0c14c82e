/**
 * The workers that are up, in Redis: each worker refreshes its entry in one sorted set
 * (`<prefix>:cim:workers`, score = when the entry expires, ms) every few seconds and removes it
 * when it closes; the API counts the live entries to refuse a worldSize no gang could ever reach.
 *
 *   KEYS: <prefix>:cim:workers (ZSET member = worker id, score = expiry ms since epoch)
 */
import type { Redis } from 'ioredis';

export const workerRegistryKey = (prefix: string) => `${prefix}:cim:workers`;

/** an entry lives this long after its last refresh, ms (a dead worker drops out after it) */
export const WORKER_ENTRY_TTL_MS = 30_000;

export async function registerWorker(redis: Redis, prefix: string, workerId: string, ttlMs = WORKER_ENTRY_TTL_MS): Promise<void> {
  await redis.zadd(workerRegistryKey(prefix), Date.now() + ttlMs, workerId);
}

export async function unregisterWorker(redis: Redis, prefix: string, workerId: string): Promise<void> {
  await redis.zrem(workerRegistryKey(prefix), workerId);
}

/** workers whose entry has not expired (expired ones are dropped on the way) */
export async function liveWorkerCount(redis: Redis, prefix: string): Promise<number> {
  const key = workerRegistryKey(prefix);
  const now = Date.now();
  await redis.zremrangebyscore(key, '-inf', now);
  return redis.zcount(key, now, '+inf');
}
