/** GET /v1/queue: queued runs in the order the controller takes them, with estimated starts. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IsoTime, Nullable, StringEnum, Uuid, bearer, errors } from '../schemas/common.ts';
import { RUN_KINDS } from '../schemas/run.ts';
import { FALLBACK_RUN_SECONDS, RECENT_RUNS, readDurationStats, readQueuePage } from '../runs/queue-estimate.ts';

/** the most entries one page holds (every queued run at once would be unbounded) */
export const QUEUE_PAGE_MAX = 500;
const QUEUE_PAGE_DEFAULT = 100;

const QueueQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: QUEUE_PAGE_MAX, default: QUEUE_PAGE_DEFAULT, description: 'entries per page' }),
    ),
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 2_147_483_647,
        default: 0,
        description: "the previous page's nextAfter (a position); 0 = the head",
      }),
    ),
  },
  { additionalProperties: false },
);

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
          `the mean (finishedAt − startedAt) of the last ${RECENT_RUNS} SUCCEEDED runs of its kind, else of any kind, else ${FALLBACK_RUN_SECONDS} s. ` +
          `Paged: at most \`limit\` entries (default ${QUEUE_PAGE_DEFAULT}, at most ${QUEUE_PAGE_MAX}); follow \`nextAfter\` as \`?after=\`.`,
        tags: ['catalog'],
        security: bearer,
        querystring: QueueQuery,
        response: {
          200: Type.Object({
            runs: Type.Array(QueueEntry),
            nextAfter: Nullable(Type.Integer({ description: 'pass as ?after= for the next page; null on the last page' })),
          }),
          ...errors(400, 401),
        },
      },
    },
    async (request) => {
      const { db } = app.services;
      const p = request.principal!;
      const limit = request.query.limit ?? QUEUE_PAGE_DEFAULT;
      const stats = await readDurationStats(db);
      const entries = await readQueuePage(db, stats, new Date(), {
        teamId: p.admin ? null : p.teamId,
        after: request.query.after ?? 0,
        limit,
      });
      return {
        nextAfter: entries.length === limit ? entries[entries.length - 1].position : null,
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
