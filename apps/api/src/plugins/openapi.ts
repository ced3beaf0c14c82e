/** OpenAPI 3.1 from the route schemas (@fastify/swagger); the UI at /docs, the JSON at /docs/json. */
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

export default fp(
  async (app) => {
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
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'a cimf_… team or admin token' } },
        },
        tags: [
          { name: 'runs', description: 'submit, list, inspect and cancel runs' },
          { name: 'artifacts', description: "a run's metrics, events and checkpoints" },
          { name: 'webhooks', description: "the team's webhooks and their deliveries" },
          { name: 'figures', description: "correlation-map figures of a pre-training's checkpoints" },
          { name: 'admin', description: 'teams and tokens (admin tokens only)' },
          { name: 'catalog', description: 'presets and the queue' },
          { name: 'ops', description: 'health, readiness and Prometheus metrics (no auth)' },
        ],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'openapi', fastify: '5.x' },
);
