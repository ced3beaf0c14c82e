/**
 * Per-token rate limits on /v1 (@fastify/rate-limit with its Redis store, so every API replica
 * counts the same requests): a caller is keyed by the sha256 of its bearer token (its IP without
 * one). Over the limit: 429 with Retry-After. Redis away: requests pass (skipOnError) rather
 * than the API failing with it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { hashToken } from '../api-token.ts';
import { TooManyRequests } from '../http-error.ts';

export interface RateLimitOptions {
  /** requests per window per token */
  max: number;
  /** window, ms */
  windowMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 600, windowMs: 60_000 };

function callerKey(request: FastifyRequest): string {
  const m = /^Bearer (\S{1,512})$/.exec(request.headers.authorization ?? '');
  return m ? `t:${hashToken(m[1]).slice(0, 32)}` : `ip:${request.ip}`;
}

/** registered inside the /v1 scope (health, readiness and metrics are not limited) */
export async function registerRateLimit(app: FastifyInstance, opts: RateLimitOptions, namespace: string): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: opts.max,
    timeWindow: opts.windowMs,
    redis: app.services.redis,
    nameSpace: `${namespace}:ratelimit:`,
    skipOnError: true,
    keyGenerator: callerKey,
    errorResponseBuilder: (_request, ctx) =>
      new TooManyRequests(
        `rate limit: at most ${ctx.max} requests per ${Math.round(opts.windowMs / 1000)} s per token; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
        Math.ceil(ctx.ttl / 1000),
      ),
  });
}
