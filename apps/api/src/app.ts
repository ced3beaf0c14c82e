/**
 * The API as a Fastify instance. Plugins load in a fixed order: external (OpenAPI), then the
 * app's (errors, services, metrics, auth), then routes. Validation is TypeBox's compiler: bodies
 * are checked as sent (no coercion, unknown fields refused, nothing silently stripped), while
 * querystrings and params are converted ("5" → 5) before the check.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { ApiDeps } from './api-deps.ts';
import { requestId } from './request-id.ts';
import authPlugin from './plugins/auth.ts';
import cors from './plugins/cors.ts';
import errorHandler, { BODY_LIMIT, formatSchemaErrors } from './plugins/error-handler.ts';
import httpMetrics from './plugins/http-metrics.ts';
import jsonBody from './plugins/json-body.ts';
import openapi from './plugins/openapi.ts';
import services from './plugins/services.ts';
import healthRoutes from './routes/health.ts';
import v1Routes from './routes/v1.ts';
import { DEFAULT_IP_RATE_LIMIT, DEFAULT_RATE_LIMIT } from './plugins/rate-limit.ts';
import { DEFAULT_STREAM_LIMITS } from './routes/streams.ts';
import portalRoutes from './routes/portal.ts';
import { DEFAULT_IMPORT_SWEEP_EVERY_MS } from './imports/import-area.ts';

export type { ApiDeps } from './api-deps.ts';

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT,
    schemaErrorFormatter: formatSchemaErrors,
    // request ids in logs, 5xx messages and the x-request-id response header: a client's or
    // proxy's x-request-id is kept only when it is a plain token, else replaced by a fresh uuid
    requestIdHeader: false,
    genReqId: requestId,
    // the per-address rate limit keys on request.ip: behind an ingress, the client's, not the ingress's
    ...(deps.trustProxy !== undefined ? { trustProxy: trustProxyOption(deps.trustProxy) } : {}),
  });
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  await app.register(cors, { origins: deps.corsOrigins ?? [] });
  await app.register(openapi, { metricsToken: deps.metricsToken });

  await app.register(errorHandler);
  await app.register(jsonBody);
  await app.register(services, deps);
  await app.register(httpMetrics, { registry: deps.registry, token: deps.metricsToken });
  await app.register(authPlugin, { adminToken: deps.adminToken });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  await app.register(healthRoutes);
  await app.register(v1Routes, {
    prefix: '/v1',
    rateLimit: deps.rateLimit ?? DEFAULT_RATE_LIMIT,
    ipRateLimit: deps.ipRateLimit ?? DEFAULT_IP_RATE_LIMIT,
    refusalDelayMs: deps.rateLimitRefusalDelayMs,
    importSweepEveryMs: deps.importSweepEveryMs ?? DEFAULT_IMPORT_SWEEP_EVERY_MS,
    streams: {
      pollMs: deps.streamPollMs ?? 1000,
      heartbeatMs: deps.streamHeartbeatMs ?? 15_000,
      ...DEFAULT_STREAM_LIMITS,
      ...deps.streamLimits,
      pages: deps.streamPages,
    },
  });
  await app.register(portalRoutes, { dir: deps.portalDir });
  await app.ready();
  return app;
}

/** CIM_TRUST_PROXY for Fastify: addresses/CIDRs as they are; a hop count as the function proxy-addr makes of it */
function trustProxyOption(trust: number | string): string | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust;
}
