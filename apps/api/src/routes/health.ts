/** Liveness and readiness for Kubernetes probes (no auth). */
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';

/** each dependency must answer within this, ms */
const READY_TIMEOUT_MS = 1000;

async function probe(what: Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      what,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    clearTimeout(timer);
  }
}

const Readiness = Type.Object({
  ok: Type.Boolean(),
  postgres: Type.String({ description: '"ok" or why not' }),
  redis: Type.String({ description: '"ok" or why not' }),
  message: Type.Optional(Type.String()),
});

export default async function healthRoutes(app: FastifyInstance) {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: 200 while the process serves requests',
        tags: ['ops'],
        security: [],
        response: { 200: Type.Object({ ok: Type.Literal(true) }) },
      },
    },
    async () => ({ ok: true as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: `Readiness: 200 when Postgres (SELECT 1) and Redis (PING) both answer within ${READY_TIMEOUT_MS} ms, else 503 naming the one that failed`,
        tags: ['ops'],
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const { db, redis } = app.services;
      const [postgres, redisState] = await Promise.all([probe(db.$queryRaw`SELECT 1`), probe(redis.ping())]);
      const failed = [postgres !== 'ok' ? `postgres: ${postgres}` : '', redisState !== 'ok' ? `redis: ${redisState}` : ''].filter(Boolean);
      if (failed.length) {
        return reply.status(503).send({ ok: false, postgres, redis: redisState, message: `not ready: ${failed.join('; ')}` });
      }
      return { ok: true, postgres, redis: redisState };
    },
  );
}
