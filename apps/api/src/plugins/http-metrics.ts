/**
 * Prometheus: `cim_http_request_duration_seconds{method, route, status_code}` on the given
 * registry, labelled by the route pattern ("/v1/runs/:id"), never the raw URL (bounded label
 * cardinality), and GET /metrics serving the registry's text.
 */
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface HttpMetricsOptions {
  registry?: Registry;
}

export const HTTP_DURATION_METRIC = 'cim_http_request_duration_seconds';
/** upper bounds, s: a metadata call takes ms, a presign or a large metrics read up to seconds */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export default fp<HttpMetricsOptions>(
  async (app, opts) => {
    let registry = opts.registry;
    if (!registry) {
      registry = new Registry();
      collectDefaultMetrics({ register: registry });
    }
    const reg = registry;
    // a registry shared by several apps (tests) already holds it
    const histogram =
      (reg.getSingleMetric(HTTP_DURATION_METRIC) as Histogram<'method' | 'route' | 'status_code'> | undefined) ??
      new Histogram({
        name: HTTP_DURATION_METRIC,
        help: 'HTTP request duration by method, route pattern and status code, seconds',
        labelNames: ['method', 'route', 'status_code'],
        buckets: BUCKETS,
        registers: [reg],
      });

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      histogram.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          tags: ['ops'],
          security: [],
          produces: ['text/plain'],
          response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }) },
        },
      },
      async (_request, reply) => {
        reply.header('content-type', reg.contentType);
        return reg.metrics();
      },
    );
  },
  { name: 'http-metrics', fastify: '5.x' },
);
