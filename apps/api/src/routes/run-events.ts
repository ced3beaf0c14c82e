/** GET /v1/runs/:id/events: what happened to a run, oldest first. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IsoTime, RunIdParams, bearer, errors } from '../schemas/common.ts';
import { assertVisibleRun } from '../runs/visible-run.ts';

/** events returned at most (the oldest ones) */
const MAX_EVENTS = 10_000;

const RunEvent = Type.Object({
  id: Type.String({ description: 'a bigint, as a string' }),
  at: IsoTime,
  type: Type.String({ description: 'dotted, e.g. run.queued, run.cancelled, checkpoint.complete' }),
  message: Type.String(),
  data: Type.Unknown({ description: 'any JSON, or null' }),
});

const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/runs/:id/events',
    {
      schema: {
        summary: "A run's events, oldest first",
        description: `At most ${MAX_EVENTS}.`,
        tags: ['artifacts'],
        security: bearer,
        params: RunIdParams,
        response: { 200: Type.Object({ events: Type.Array(RunEvent) }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { db } = app.services;
      await assertVisibleRun(db, request.principal!, request.params.id);
      const rows = await db.runEvent.findMany({
        where: { runId: request.params.id },
        orderBy: [{ at: 'asc' }, { id: 'asc' }],
        take: MAX_EVENTS,
      });
      return {
        events: rows.map((e) => ({ id: e.id.toString(), at: e.at.toISOString(), type: e.type, message: e.message, data: e.data ?? null })),
      };
    },
  );
};

export default eventRoutes;
