/**
 * The onRequest hook that guards /metrics and /docs with CIM_METRICS_TOKEN: a caller without
 * `Authorization: Bearer <token>` (compared in constant time) gets 401 with the API's error body.
 * No token configured: no hook, the routes stay open (local development; main.ts warns).
 */
import type { onRequestAsyncHookHandler } from 'fastify';
import { bearerMatches, METRICS_UNAUTHORIZED } from '@cim-forge/telemetry';

export function metricsTokenGuard(token: string | undefined): onRequestAsyncHookHandler | undefined {
  if (token === undefined) return undefined;
  return async (request, reply) => {
    if (bearerMatches(request.headers.authorization, token)) return;
    reply.code(401).header('www-authenticate', 'Bearer').send(METRICS_UNAUTHORIZED);
    return reply;
  };
}
