/** GET /v1/runs/:id/metrics: one series (downsampled), or the list of series without ?name. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { readMetricMinMax, readMetricSeries } from '@cim-forge/db';
import { IsoTime, Nullable, RunIdParams, StringEnum, Uuid, bearer, errors } from '../schemas/common.ts';
import { assertVisibleRun } from '../runs/visible-run.ts';
import { badRequest } from '../http-error.ts';

/** steps are stored as int4 */
const MAX_STEP = 2_147_483_647;

/** points returned when the client gives no `every` */
export const DEFAULT_MAX_POINTS = 5000;
/** points returned whatever `every` asks for */
export const MAX_POINTS = 100_000;
/** most buckets a min/max read may ask for (each keeps up to 4 points) */
export const MAX_BUCKETS = 25_000;

const Series = Type.Object({
  runId: Uuid,
  name: Type.String(),
  rank: Nullable(Type.Integer()),
  every: Type.Integer({ description: 'the stride used: every k-th point of the range, the first included (1 with buckets)' }),
  buckets: Type.Optional(Type.Integer({ description: 'with reduce=minmax: the number of equal-width step buckets' })),
  reduce: Type.Optional(StringEnum(['minmax'] as const)),
  total: Type.Integer({ description: 'points in the range before downsampling' }),
  points: Type.Array(Type.Object({ step: Type.Integer(), value: Type.Number(), at: IsoTime })),
});

const SeriesList = Type.Object({
  series: Type.Array(
    Type.Object({
      name: Type.String(),
      rank: Nullable(Type.Integer()),
      points: Type.Integer(),
      firstStep: Type.Integer(),
      lastStep: Type.Integer(),
    }),
  ),
});

/** the stride that keeps a series of `total` points within the caps */
export function chooseEvery(total: number, every: number | undefined): number {
  if (every === undefined) return total > DEFAULT_MAX_POINTS ? Math.ceil(total / DEFAULT_MAX_POINTS) : 1;
  return Math.ceil(total / every) > MAX_POINTS ? Math.ceil(total / MAX_POINTS) : every;
}

const metricRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/runs/:id/metrics',
    {
      schema: {
        summary: "A run's metric series",
        description:
          `With name: the series (rank absent = the run-level one) over the inclusive step range [from, to], every k-th point. ` +
          `Without every, k is chosen so at most ${DEFAULT_MAX_POINTS} points come back; never more than ${MAX_POINTS}. ` +
          `With buckets=N (reduce=minmax, the default and only reduction): the range is cut into N equal-width step buckets ` +
          `and each keeps its first, last, lowest and highest point (≤ 4N real points), so spikes survive; N ≤ ${MAX_BUCKETS}. ` +
          'Without name: the available series with their sizes.',
        tags: ['artifacts'],
        security: bearer,
        params: RunIdParams,
        querystring: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            rank: Type.Optional(Type.Integer({ minimum: 0, maximum: 4095 })),
            from: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_STEP })),
            to: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_STEP })),
            every: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
            buckets: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BUCKETS })),
            reduce: Type.Optional(StringEnum(['minmax'] as const, { description: 'how buckets are reduced (needs buckets)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Union([Series, SeriesList]), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { db } = app.services;
      const runId = request.params.id;
      await assertVisibleRun(db, request.principal!, runId);
      const { name, rank, from, to, buckets, reduce } = request.query;
      if (buckets !== undefined && request.query.every !== undefined)
        throw badRequest('querystring: give either every or buckets, not both');
      if (reduce !== undefined && buckets === undefined) throw badRequest('querystring/reduce needs buckets');
      if (name === undefined) {
        const rows = await db.$queryRaw<{ name: string; rank: number | null; points: number; firstStep: number; lastStep: number }[]>`
          SELECT name, rank, count(*)::int AS points, min(step) AS "firstStep", max(step) AS "lastStep"
          FROM metrics WHERE run_id = ${runId}::uuid GROUP BY name, rank ORDER BY name, rank NULLS FIRST`;
        return { series: rows };
      }
      const total = await db.metric.count({ where: { runId, name, rank: rank ?? null, step: { gte: from, lte: to } } });
      if (buckets !== undefined) {
        // a series that already fits is returned whole
        const points =
          total <= 4 * buckets
            ? await readMetricSeries(db, { runId, name, rank: rank ?? null, from, to })
            : await readMetricMinMax(db, { runId, name, rank: rank ?? null, from, to, buckets });
        return {
          runId,
          name,
          rank: rank ?? null,
          every: 1,
          buckets,
          reduce: 'minmax' as const,
          total,
          points: points.map((p) => ({ step: p.step, value: p.value, at: p.at.toISOString() })),
        };
      }
      const every = chooseEvery(total, request.query.every);
      const points = await readMetricSeries(db, { runId, name, rank: rank ?? null, from, to, every });
      return {
        runId,
        name,
        rank: rank ?? null,
        every,
        total,
        points: points.map((p) => ({ step: p.step, value: p.value, at: p.at.toISOString() })),
      };
    },
  );
};

export default metricRoutes;
