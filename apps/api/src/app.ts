/**
 * The API as a Fastify instance. Plugins load in a fixed order: external (OpenAPI), then the
 * app's (errors, services, metrics, auth), then routes. Validation is TypeBox's compiler: bodies
 * are checked as sent (no coercion, unknown fields refused, nothing silently stripped), while
 * querystrings and params are converted ("5" → 5) before the check.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { ApiDeps } from './api-deps.ts';
import authPlugin from './plugins/auth.ts';
import cors from './plugins/cors.ts';
import errorHandler, { BODY_LIMIT, formatSchemaErrors } from './plugins/error-handler.ts';
import httpMetrics from './plugins/http-metrics.ts';
import openapi from './plugins/openapi.ts';
import services from './plugins/services.ts';
import healthRoutes from './routes/health.ts';
import v1Routes from './routes/v1.ts';

export type { ApiDeps } from './api-deps.ts';

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT,
    schemaErrorFormatter: formatSchemaErrors,
    // request ids in logs and 5xx messages; a proxy's x-request-id is kept
    requestIdHeader: 'x-request-id',
  });
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  await app.register(cors, { origins: deps.corsOrigins ?? [] });
  await app.register(openapi);

  await app.register(errorHandler);
  await app.register(services, deps);
  await app.register(httpMetrics, { registry: deps.registry });
  await app.register(authPlugin, { adminToken: deps.adminToken });

  await app.register(healthRoutes);
  await app.register(v1Routes, { prefix: '/v1' });
  await app.ready();
  return app;
}
