/** Liveness and readiness for Kubernetes probes (no auth). */
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';

/** each dependency must answer within this, ms */
const READY_TIMEOUT_MS = 1000;

async function probe(what: Promise<unknown>, onError: (err: unknown) => void): Promise<'ok' | 'unavailable'> {
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
    onError(err);
    // the driver's message names hosts and ports: it goes to the log, never to the caller
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

const StringEnumOk = Type.Unsafe<'ok' | 'unavailable'>({
  type: 'string',
  enum: ['ok', 'unavailable'],
  description: 'ok, or unavailable (details only in the log)',
});

const Readiness = Type.Object({
  ok: Type.Boolean(),
  postgres: StringEnumOk,
  redis: StringEnumOk,
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
        summary:
          `Readiness: 200 when Postgres (SELECT 1) and Redis (PING) both answer within ${READY_TIMEOUT_MS} ms, ` +
          `else 503 naming the one that failed (no driver details: those are logged)`,
        tags: ['ops'],
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const { db, redis } = app.services;
      const log = (what: string) => (err: unknown) => request.log.warn({ err }, `readiness: ${what} unavailable`);
      const [postgres, redisState] = await Promise.all([probe(db.$queryRaw`SELECT 1`, log('postgres')), probe(redis.ping(), log('redis'))]);
      const failed = [postgres !== 'ok' ? `postgres: ${postgres}` : '', redisState !== 'ok' ? `redis: ${redisState}` : ''].filter(Boolean);
      if (failed.length) {
        return reply.status(503).send({ ok: false, postgres, redis: redisState, message: `not ready: ${failed.join('; ')}` });
      }
      return { ok: true, postgres, redis: redisState };
    },
  );
}
