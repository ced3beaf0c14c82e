/**
 * CIM_METRICS_TOKEN: the bearer token that guards /metrics (API, controller, workers) and the
 * API's /docs. One check for every server: the Authorization header against the token in
 * constant time, and the one 401 body they all answer with.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** shortest accepted CIM_METRICS_TOKEN, chars */
export const MIN_METRICS_TOKEN = 24;

/** the 401 body (the API's error shape); names no token, team or run */
export const METRICS_UNAUTHORIZED = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'this endpoint needs Authorization: Bearer <metrics token>',
} as const;

/** undefined when `value` is usable as CIM_METRICS_TOKEN, else the reason */
export function metricsTokenProblem(value: string): string | undefined {
  if (value.length < MIN_METRICS_TOKEN)
    return `CIM_METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN} characters (e.g. openssl rand -base64 32)`;
  if (!/^[\x21-\x7e]+$/.test(value)) return 'CIM_METRICS_TOKEN may hold only printable ASCII without spaces';
  return undefined;
}

/**
 * Whether an Authorization header carries `Bearer <token>`. Both sides are hashed first, so the
 * comparison takes the same time whatever the header's length or content.
 */
export function bearerMatches(header: string | string[] | undefined, token: string): boolean {
  if (typeof header !== 'string') return false;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  const given = createHash('sha256')
    .update(m ? m[1] : '')
    .digest();
  const want = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, want) && m !== null;
}
