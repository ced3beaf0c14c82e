/**
 * Rate limits on /v1 (@fastify/rate-limit with its Redis store, so every API replica counts the
 * same requests), in two layers:
 *  - per IP, an onRequest hook that runs BEFORE authentication: a flood of made-up bearers gets
 *    429 once over the limit, without a hash or a PostgreSQL lookup each (`ipRateLimit`);
 *  - per token (route hooks, after authentication): a caller is keyed by the sha256 of its bearer
 *    token (its IP without one).
 * Over a limit: 429 with Retry-After. Redis away: requests pass (skipOnError) rather than the API
 * failing with it. Behind a proxy the IP is the proxy's unless the API trusts it (CIM_TRUST_PROXY).
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
/** per client IP, every request, before the token is looked at: twice a token's, for a few users behind one NAT */
export const DEFAULT_IP_RATE_LIMIT: RateLimitOptions = { max: 1200, windowMs: 60_000 };

function callerKey(request: FastifyRequest): string {
  const m = /^Bearer (\S{1,512})$/.exec(request.headers.authorization ?? '');
  return m ? `t:${hashToken(m[1]).slice(0, 32)}` : `ip:${request.ip}`;
}

/** registered inside the /v1 scope (health, readiness and metrics are not limited), before the auth hook */
export async function registerRateLimit(
  app: FastifyInstance,
  opts: RateLimitOptions,
  ipOpts: RateLimitOptions,
  namespace: string,
): Promise<void> {
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
  // an app-level onRequest hook of this scope, added before `authenticate`, runs before it (the
  // per-token limit above is a route-level hook, which Fastify runs after the scope's hooks)
  const perIp = app.createRateLimit({ max: ipOpts.max, timeWindow: ipOpts.windowMs, keyGenerator: (request) => `pre-ip:${request.ip}` });
  app.addHook('onRequest', async (request) => {
    const r = await perIp(request);
    if (!r.isAllowed && r.isExceeded) {
      throw new TooManyRequests(
        `rate limit: at most ${ipOpts.max} requests per ${Math.round(ipOpts.windowMs / 1000)} s from one address; retry in ${r.ttlInSeconds} s`,
        r.ttlInSeconds,
      );
    }
  });
}
