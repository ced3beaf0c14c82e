/**
 * Min/max-per-bucket downsampling of one metric series, for charts: the step range is cut into
 * `buckets` equal-width buckets and each keeps its first, last, lowest and highest point (M4,
 * Jugel et al., VLDB 2014), so a line drawn through the result has the same extremes as the full
 * series: a one-step loss spike survives at any zoom, where a stride (`every`) or a bucket mean
 * would hide it. At most 4 × buckets points come back, real points (step, value, at), by step.
 */
import { Prisma } from './generated/prisma/client.ts';
import type { Db } from './client.ts';
import type { SeriesPoint, SeriesQuery } from './metrics.ts';

export async function readMetricMinMax(db: Db, q: Omit<SeriesQuery, 'every'> & { buckets: number }): Promise<SeriesPoint[]> {
  const buckets = Math.max(1, Math.floor(q.buckets));
  const rank = q.rank == null ? Prisma.sql`rank IS NULL` : Prisma.sql`rank = ${q.rank}`;
  return db.$queryRaw<SeriesPoint[]>`
    WITH s AS (
      SELECT step, value, at FROM metrics
      WHERE run_id = ${q.runId}::uuid AND name = ${q.name} AND ${rank}
        AND step >= ${q.from ?? -2147483648} AND step <= ${q.to ?? 2147483647}
    ),
    r AS (SELECT min(step)::bigint AS lo, max(step)::bigint - min(step)::bigint + 1 AS span FROM s),
    b AS (SELECT s.*, (s.step - r.lo) * ${buckets} / r.span AS bucket FROM s, r),
    ranked AS (
      SELECT step, value, at,
        row_number() OVER (PARTITION BY bucket ORDER BY step) AS first_i,
        row_number() OVER (PARTITION BY bucket ORDER BY step DESC) AS last_i,
        row_number() OVER (PARTITION BY bucket ORDER BY value, step) AS min_i,
        row_number() OVER (PARTITION BY bucket ORDER BY value DESC, step) AS max_i
      FROM b
    )
    SELECT step, value, at FROM ranked
    WHERE first_i = 1 OR last_i = 1 OR min_i = 1 OR max_i = 1
    ORDER BY step`;
}
