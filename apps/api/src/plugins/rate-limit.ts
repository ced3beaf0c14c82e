/**
 * Rate limits on /v1 (@fastify/rate-limit with its Redis store, so every API replica counts the
 * same requests), in two layers:
 *  - per IP, an onRequest hook that runs BEFORE authentication: a flood of made-up bearers gets
 *    429 once over the limit, without a hash or a PostgreSQL lookup each (`ipRateLimit`);
 *  - per token, in the same hook, also before authentication: a caller is keyed by the sha256 of
 *    its bearer token (its IP without one), so a token over its limit costs no PostgreSQL lookup;
 *  - a key found over its limit is remembered on this replica until its window ends (`OverLimit`):
 *    a flood is then refused from memory, not with a Redis round trip per request, and after a short
 *    delay (`REFUSAL_DELAY_MS`), so a client retrying in a loop cannot take the event loop from
 *    other teams (issue 24, the load test's fairness at p99).
 * Over a limit: 429 with Retry-After. Redis away: requests pass (skipOnError) rather than the API
 * failing with it. Behind a proxy the IP is the proxy's unless the API trusts it (CIM_TRUST_PROXY).
 */
import { setTimeout as sleep } from 'node:timers/promises';
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
/**
 * a refusal answered from memory (the key is known over its limit) waits this long first, ms, or
 * until the window ends if sooner: a client retrying in a loop then sends a few requests a second
 * per connection instead of thousands, and the event loop stays with everyone else's requests
 */
export const REFUSAL_DELAY_MS = 500;

function callerKey(request: FastifyRequest): string {
  const m = /^Bearer (\S{1,512})$/.exec(request.headers.authorization ?? '');
  return m ? `t:${hashToken(m[1]).slice(0, 32)}` : `ip:${request.ip}`;
}

/**
 * Keys known to be over their limit on this replica, until their window ends (the Redis store counts
 * in fixed windows: once over, a key stays over until the window's TTL, whatever other replicas
 * do). A flooding caller is then answered 429 from memory, with no Redis round trip and no token
 * lookup: what its flood costs everyone else is a hash and a map read per request.
 */
export class OverLimit {
  private readonly until = new Map<string, number>();
  constructor(private readonly maxKeys = 100_000) {}
  /** ms left in the key's window when it is known to be over, else 0 */
  left(key: string, now = Date.now()): number {
    const t = this.until.get(key);
    if (t === undefined) return 0;
    if (t <= now) {
      this.until.delete(key);
      return 0;
    }
    return t - now;
  }
  mark(key: string, ttlMs: number, now = Date.now()): void {
    if (ttlMs <= 0) return;
    if (this.until.size >= this.maxKeys) {
      for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
      if (this.until.size >= this.maxKeys) this.until.clear();
    }
    this.until.set(key, now + ttlMs);
  }
}

/**
 * registered inside the /v1 scope (health, readiness and metrics are not limited), before the auth
 * hook: both limits are one onRequest hook of the scope, so a request over either is refused before
 * its token is looked up in PostgreSQL
 */
export async function registerRateLimit(
  app: FastifyInstance,
  opts: RateLimitOptions,
  ipOpts: RateLimitOptions,
  namespace: string,
  refusalDelayMs = REFUSAL_DELAY_MS,
): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    redis: app.services.redis,
    nameSpace: `${namespace}:ratelimit:`,
    skipOnError: true,
  });
  const perIp = app.createRateLimit({ max: ipOpts.max, timeWindow: ipOpts.windowMs, keyGenerator: (request) => `pre-ip:${request.ip}` });
  // keyed by the sha256 of the bearer (no lookup needed), by the address without one
  const perToken = app.createRateLimit({ max: opts.max, timeWindow: opts.windowMs, keyGenerator: callerKey });
  const over = new OverLimit();
  const ipRefusal = (s: number) =>
    new TooManyRequests(
      `rate limit: at most ${ipOpts.max} requests per ${Math.round(ipOpts.windowMs / 1000)} s from one address; retry in ${s} s`,
      s,
    );
  const tokenRefusal = (s: number) =>
    new TooManyRequests(`rate limit: at most ${opts.max} requests per ${Math.round(opts.windowMs / 1000)} s per token; retry in ${s} s`, s);
  app.addHook('onRequest', async (request) => {
    const ipKey = `pre-ip:${request.ip}`;
    let left = over.left(ipKey);
    if (left > 0) {
      await sleep(Math.min(refusalDelayMs, left));
      throw ipRefusal(Math.max(1, Math.ceil(over.left(ipKey) / 1000)));
    }
    const ip = await perIp(request);
    if (!ip.isAllowed && ip.isExceeded) {
      over.mark(ipKey, ip.ttl);
      throw ipRefusal(ip.ttlInSeconds);
    }
    const tokenKey = callerKey(request);
    left = over.left(tokenKey);
    if (left > 0) {
      await sleep(Math.min(refusalDelayMs, left));
      throw tokenRefusal(Math.max(1, Math.ceil(over.left(tokenKey) / 1000)));
    }
    const token = await perToken(request);
    if (!token.isAllowed && token.isExceeded) {
      over.mark(tokenKey, token.ttl);
      throw tokenRefusal(token.ttlInSeconds);
    }
  });
}
