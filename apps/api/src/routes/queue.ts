/** GET /v1/queue: queued runs in the order the controller takes them, with estimated starts. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IsoTime, Nullable, StringEnum, Uuid, bearer, errors } from '../schemas/common.ts';
import { RUN_KINDS } from '../schemas/run.ts';
import { FALLBACK_RUN_SECONDS, RECENT_RUNS, estimateQueue, readDurationStats, readQueue } from '../runs/queue-estimate.ts';

const QueueEntry = Type.Object({
  id: Uuid,
  teamId: Uuid,
  kind: StringEnum(RUN_KINDS),
  priority: Type.Integer(),
  position: Type.Integer({ description: "1-based, among every team's queued runs" }),
  queuedAt: Nullable(IsoTime),
  estimatedStartAt: IsoTime,
});

const queueRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/queue',
    {
      schema: {
        summary: 'Queued runs with positions and estimated start times',
        description:
          'Order: priority desc, then queuedAt. An admin sees every queued run; a team sees its own, with their global positions. ' +
          `estimatedStartAt = now + Σ(mean duration of each run ahead) / max(1, STARTING + RUNNING runs), where a run's mean duration is ` +
          `the mean (finishedAt − startedAt) of the last ${RECENT_RUNS} SUCCEEDED runs of its kind, else of any kind, else ${FALLBACK_RUN_SECONDS} s.`,
        tags: ['catalog'],
        security: bearer,
        response: { 200: Type.Object({ runs: Type.Array(QueueEntry) }), ...errors(401) },
      },
    },
    async (request) => {
      const { db } = app.services;
      const p = request.principal!;
      const [queued, stats] = await Promise.all([readQueue(db), readDurationStats(db)]);
      const entries = estimateQueue(queued, stats, new Date()).filter((e) => p.admin || e.teamId === p.teamId);
      return {
        runs: entries.map((e) => ({
          id: e.id,
          teamId: e.teamId,
          kind: e.kind as (typeof RUN_KINDS)[number],
          priority: e.priority,
          position: e.position,
          queuedAt: e.queuedAt?.toISOString() ?? null,
          estimatedStartAt: e.estimatedStartAt.toISOString(),
        })),
      };
    },
  );
};

export default queueRoutes;
