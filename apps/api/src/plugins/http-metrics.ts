/**
 * Prometheus: `cim_http_request_duration_seconds{method, route, status_code}` on the given
 * registry, labelled by the route pattern ("/v1/runs/:id"), never the raw URL (bounded label
 * cardinality), and GET /metrics serving the registry's text (behind CIM_METRICS_TOKEN when set).
 */
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import type { Registry } from 'prom-client';
import { apiMetrics, catalogue, createRegistry, type ApiMetrics } from '@cim-forge/telemetry';
import { ErrorBody } from '../schemas/common.ts';
import { metricsTokenGuard } from './metrics-token-guard.ts';

export interface HttpMetricsOptions {
  registry?: Registry;
  /** CIM_METRICS_TOKEN: set, GET /metrics needs `Authorization: Bearer <token>` */
  token?: string;
}

export const HTTP_DURATION_METRIC = catalogue.httpRequestDuration.name;

declare module 'fastify' {
  interface FastifyInstance {
    apiMetrics: ApiMetrics;
  }
}

export default fp<HttpMetricsOptions>(
  async (app, opts) => {
    const reg = opts.registry ?? createRegistry({ service: 'api' });
    // the catalogue's metrics (libs/telemetry); a registry shared by several apps (tests) already holds them
    const metrics = apiMetrics(reg);
    app.decorate('apiMetrics', metrics);
    const histogram = metrics.httpDuration;

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      histogram.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    const guard = metricsTokenGuard(opts.token);
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          description: 'Needs `Authorization: Bearer <CIM_METRICS_TOKEN>` when the API has one (every deployment should).',
          tags: ['ops'],
          security: [{ metricsToken: [] }],
          produces: ['text/plain'],
          response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }), 401: ErrorBody },
        },
        ...(guard ? { onRequest: guard } : {}),
      },
      async (_request, reply) => {
        reply.header('content-type', reg.contentType);
        return reg.metrics();
      },
    );
  },
  { name: 'http-metrics', fastify: '5.x' },
);
