// Batched metric writes and downsampled series reads on the `metrics` table (see the comment on
// model Metric in prisma/schema.prisma for why it is a row table under a unique btree).
import type { Db } from './client.ts';
import { Prisma } from './generated/prisma/client.ts';

export interface MetricPoint {
  runId: string;
  name: string;
  // null or absent: a run-level value (not one rank's)
  rank?: number | null;
  step: number;
  value: number;
  at?: Date;
}

// rows per INSERT: one statement with six array parameters, whatever the batch size
const DEFAULT_BATCH = 5000;

// Upserts points: a restarted gang re-logs steps after its checkpoint and replaces them.
export async function writeMetrics(db: Db, points: readonly MetricPoint[], batchSize = DEFAULT_BATCH): Promise<number> {
  let written = 0;
  for (let i = 0; i < points.length; i += batchSize) {
    const batch = points.slice(i, i + batchSize);
    const now = new Date();
    written += await db.$executeRaw`
      INSERT INTO metrics (run_id, name, rank, step, value, at)
      SELECT * FROM unnest(
        ${batch.map((p) => p.runId)}::uuid[], ${batch.map((p) => p.name)}::text[],
        ${batch.map((p) => p.rank ?? null)}::int[], ${batch.map((p) => p.step)}::int[],
        ${batch.map((p) => p.value)}::float8[], ${batch.map((p) => (p.at ?? now).toISOString())}::timestamptz[])
      ON CONFLICT (run_id, name, rank, step) DO UPDATE SET value = EXCLUDED.value, at = EXCLUDED.at`;
  }
  return written;
}

export interface SeriesQuery {
  runId: string;
  name: string;
  // null or absent: the run-level series
  rank?: number | null;
  // inclusive step range
  from?: number;
  to?: number;
  // keep every k-th point (the 1st, the (k+1)-th, …) of the range
  every?: number;
}

export interface SeriesPoint {
  step: number;
  value: number;
  at: Date;
}

function seriesWhere(q: Omit<SeriesQuery, 'every'>): Prisma.Sql {
  const rank = q.rank == null ? Prisma.sql`rank IS NULL` : Prisma.sql`rank = ${q.rank}`;
  return Prisma.sql`run_id = ${q.runId}::uuid AND name = ${q.name} AND ${rank}
    AND step >= ${q.from ?? -2147483648} AND step <= ${q.to ?? 2147483647}`;
}

export async function readMetricSeries(db: Db, q: SeriesQuery): Promise<SeriesPoint[]> {
  const every = Math.max(1, Math.floor(q.every ?? 1));
  if (every === 1) {
    return db.$queryRaw<SeriesPoint[]>`
      SELECT step, value, at FROM metrics WHERE ${seriesWhere(q)} ORDER BY step`;
  }
  return db.$queryRaw<SeriesPoint[]>`
    SELECT step, value, at FROM (
      SELECT step, value, at, row_number() OVER (ORDER BY step) - 1 AS i
      FROM metrics WHERE ${seriesWhere(q)}
    ) s WHERE i % ${every} = 0 ORDER BY step`;
}

export interface SeriesBucket {
  // first and last step in the bucket
  step: number;
  lastStep: number;
  mean: number;
  min: number;
  max: number;
  count: number;
}

// Averages the range into at most `buckets` equal-width step buckets (for charts).
export async function readMetricBuckets(db: Db, q: Omit<SeriesQuery, 'every'> & { buckets: number }): Promise<SeriesBucket[]> {
  const buckets = Math.max(1, Math.floor(q.buckets));
  const rows = await db.$queryRaw<{ step: number; lastStep: number; mean: number; min: number; max: number; count: bigint }[]>`
    WITH s AS (SELECT step, value FROM metrics WHERE ${seriesWhere(q)}),
         r AS (SELECT min(step)::bigint AS lo, max(step)::bigint - min(step)::bigint + 1 AS span FROM s)
    SELECT min(step) AS step, max(step) AS "lastStep", avg(value) AS mean, min(value) AS min,
           max(value) AS max, count(*) AS count
    FROM s, r GROUP BY (s.step - r.lo) * ${buckets} / r.span ORDER BY 1`;
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}
