/**
 * Helpers for this lib's tests (not exported): a key prefix unique to the test run, gangs of
 * in-process ranks, seeded data, and key/memory accounting on the real Redis at 127.0.0.1:6379.
 */
import { Redis } from 'ioredis';
import { RedisCollective } from './redis-collective.ts';
import type { RedisCollectiveOptions } from './redis-collective-options.ts';

export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** `cimtest:${pid}:${ms}:${name}`: parallel test runs never share keys */
export function testPrefix(name: string): string {
  return `cimtest:${process.pid}:${Date.now()}:${name}`;
}

/** Joins `worldSize` in-process ranks (each with its own connections) of one run. */
export function joinGang(worldSize: number, options: Partial<RedisCollectiveOptions> & { keyPrefix: string }): Promise<RedisCollective[]> {
  return Promise.all(Array.from({ length: worldSize }, (_, rank) => RedisCollective.join({ runId: 'run', ...options, rank, worldSize })));
}

/** A connection for inspecting and cleaning Redis in tests. */
export function adminRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1, protocol: 2 });
}

export async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysWithPrefix(redis, prefix);
  if (keys.length) await redis.del(...keys);
}

/** INFO memory used_memory, bytes */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** mulberry32: a small seeded generator of uniform floats in [0, 1) */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * [length] float32 gradients-like values with mixed magnitudes (1e-6 … 1e8), so that the order
 * of a float32 sum changes its bits.
 */
export function randomGradients(length: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (rnd() - 0.5) * 10 ** Math.floor(rnd() * 15 - 6);
  return out;
}

/** The bytes of a float array, for bit-exact comparisons (NaN-safe). */
export function bitsOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
