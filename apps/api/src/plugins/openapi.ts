/**
 * OpenAPI 3.1 from the route schemas (@fastify/swagger); the UI at /docs, the JSON at /docs/json.
 * With CIM_METRICS_TOKEN set, everything under /docs needs `Authorization: Bearer <it>`.
 */
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { metricsTokenGuard } from './metrics-token-guard.ts';

export interface OpenApiOptions {
  /** CIM_METRICS_TOKEN: set, /docs, /docs/json and the UI's files need it as a bearer token */
  metricsToken?: string;
}

export default fp<OpenApiOptions>(
  async (app, opts) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'CIM Forge API',
          version: '0.1.0',
          description:
            'Submit and track Correlational Image Modeling pre-training, fine-tuning and evaluation runs. ' +
            'Every /v1 route takes `Authorization: Bearer <token>`; errors are `{statusCode, error, message}`.',
        },
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'a cimf_… team or admin token' },
            metricsToken: { type: 'http', scheme: 'bearer', description: "the deployment's CIM_METRICS_TOKEN (Prometheus, operators)" },
          },
        },
        tags: [
          { name: 'runs', description: 'submit, list, inspect and cancel runs' },
          { name: 'artifacts', description: "a run's metrics, events and checkpoints" },
          { name: 'webhooks', description: "the team's webhooks and their deliveries" },
          { name: 'figures', description: "correlation-map figures of a pre-training's checkpoints" },
          { name: 'admin', description: 'teams and tokens (admin tokens only)' },
          { name: 'catalog', description: 'presets and the queue' },
          { name: 'sweeps', description: 'hyper-parameter sweeps (grid, random, ASHA) whose trials are runs' },
          { name: 'streams', description: 'live feeds (Server-Sent Events): a run, every run of a team, a sweep' },
          { name: 'ops', description: 'health and readiness (no auth); Prometheus metrics (the metrics token)' },
        ],
      },
    });
    const guard = metricsTokenGuard(opts.metricsToken);
    await app.register(swaggerUi, { routePrefix: '/docs', ...(guard ? { uiHooks: { onRequest: guard } } : {}) });
  },
  { name: 'openapi', fastify: '5.x' },
);
