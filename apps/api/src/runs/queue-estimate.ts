/**
 * Queue positions and estimated start times.
 *
 *   mean(kind)  = mean (finishedAt − startedAt) of the last 20 SUCCEEDED runs of that kind,
 *                 else of the last 20 SUCCEEDED runs of any kind, else 60 s
 *   slots       = number of STARTING or RUNNING runs, at least 1
 *   estimatedStartAt(i) = now + Σ_{j ahead of i} mean(kind_j) / slots
 *
 * Order: priority desc, then queuedAt asc (then id), across every team: a team's view shows its
 * own runs with their global positions.
 *
 * `readQueuePage` computes positions and the sum ahead in PostgreSQL (window functions over the
 * queued rows) and returns one page: the API never holds every queued run, however long the queue.
 * `estimateQueue` is the same arithmetic in memory (the unit tests' reference).
 */
import { Prisma, RunStatus, type Db } from '@cim-forge/db';

export const FALLBACK_RUN_SECONDS = 60;
/** SUCCEEDED runs averaged per kind */
export const RECENT_RUNS = 20;

export interface QueuedRun {
  id: string;
  teamId: string;
  kind: string;
  priority: number;
  queuedAt: Date | null;
}

export interface QueueEntry extends QueuedRun {
  /** 1-based, over every team's queued runs */
  position: number;
  estimatedStartAt: Date;
}

export interface DurationStats {
  /** mean seconds by kind (kinds with no history absent) */
  byKind: Map<string, number>;
  /** mean seconds over any kind, undefined without history */
  overall: number | undefined;
  /** STARTING + RUNNING runs */
  active: number;
}

export function estimateQueue(ordered: QueuedRun[], stats: DurationStats, now: Date): QueueEntry[] {
  const slots = Math.max(1, stats.active);
  let aheadSeconds = 0;
  return ordered.map((r, i) => {
    const entry = { ...r, position: i + 1, estimatedStartAt: new Date(now.getTime() + (aheadSeconds / slots) * 1000) };
    aheadSeconds += stats.byKind.get(r.kind) ?? stats.overall ?? FALLBACK_RUN_SECONDS;
    return entry;
  });
}

export async function readQueue(db: Db): Promise<QueuedRun[]> {
  return db.run.findMany({
    where: { status: RunStatus.QUEUED },
    orderBy: [{ priority: 'desc' }, { queuedAt: 'asc' }, { id: 'asc' }],
    select: { id: true, teamId: true, kind: true, priority: true, queuedAt: true },
  });
}

export async function readDurationStats(db: Db): Promise<DurationStats> {
  const recent = (kindFilter: Prisma.Sql) => Prisma.sql`
    SELECT EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS s FROM runs
    WHERE status = 'SUCCEEDED' AND started_at IS NOT NULL AND finished_at IS NOT NULL ${kindFilter}
    ORDER BY finished_at DESC LIMIT ${RECENT_RUNS}`;
  const [rows, all, active] = await Promise.all([
    db.$queryRaw<{ kind: string; mean: number | null }[]>`
      SELECT k.kind::text AS kind, (SELECT avg(s) FROM (${recent(Prisma.sql`AND kind = k.kind`)}) x)::float8 AS mean
      FROM unnest(enum_range(NULL::"RunKind")) AS k(kind)`,
    db.$queryRaw<{ mean: number | null }[]>`SELECT avg(s)::float8 AS mean FROM (${recent(Prisma.empty)}) x`,
    db.run.count({ where: { status: { in: [RunStatus.STARTING, RunStatus.RUNNING] } } }),
  ]);
  const byKind = new Map<string, number>();
  for (const r of rows) if (r.mean !== null) byKind.set(r.kind, r.mean);
  return { byKind, overall: all[0]?.mean ?? undefined, active };
}

export interface QueuePageQuery {
  /** null: every team's runs (an admin) */
  teamId: string | null;
  /** positions after this one (the previous page's last position; 0 = from the head) */
  after: number;
  limit: number;
}

/** one page of the queue, positions and estimates as `estimateQueue` gives them, computed in PostgreSQL */
export async function readQueuePage(db: Db, stats: DurationStats, now: Date, q: QueuePageQuery): Promise<QueueEntry[]> {
  const slots = Math.max(1, stats.active);
  const fallback = stats.overall ?? FALLBACK_RUN_SECONDS;
  const cases = [...stats.byKind].map(([kind, mean]) => Prisma.sql`WHEN kind::text = ${kind} THEN ${mean}::float8`);
  const meanOf = cases.length > 0 ? Prisma.sql`CASE ${Prisma.join(cases, ' ')} ELSE ${fallback}::float8 END` : Prisma.sql`${fallback}::float8`;
  const team = q.teamId !== null ? Prisma.sql`AND team_id = ${q.teamId}::uuid` : Prisma.empty;
  const rows = await db.$queryRaw<{ id: string; team_id: string; kind: string; priority: number; queued_at: Date | null; position: bigint; ahead: number }[]>`
    WITH ordered AS (
      SELECT id, team_id, kind::text AS kind, priority, queued_at,
        row_number() OVER w AS position,
        coalesce(sum(${meanOf}) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::float8 AS ahead
      FROM runs WHERE status = 'QUEUED'
      WINDOW w AS (ORDER BY priority DESC, queued_at ASC NULLS LAST, id ASC)
    )
    SELECT id::text AS id, team_id::text AS team_id, kind, priority, queued_at, position, ahead FROM ordered
    WHERE position > ${q.after} ${team}
    ORDER BY position
    LIMIT ${q.limit}`;
  return rows.map((r) => ({
    id: r.id,
    teamId: r.team_id,
    kind: r.kind,
    priority: r.priority,
    queuedAt: r.queued_at,
    position: Number(r.position),
    estimatedStartAt: new Date(now.getTime() + (r.ahead / slots) * 1000),
  }));
}

/**
 * The FLOP rate one rank achieved in this service's last RECENT_RUNS SUCCEEDED runs of `kind`
 * (sweep trials left out: they stop at rungs), as Σ totalSteps·flopsPerStep / Σ (finishedAt −
 * startedAt), from each run's stored plan and resource estimate: null without such runs. The sweep
 * estimate's `seconds` divides its FLOPs by it.
 */
export async function readFlopRate(db: Db, kind: string): Promise<number | null> {
  const rows = await db.$queryRaw<{ rate: number | null }[]>`
    SELECT (sum(flops) / nullif(sum(s), 0))::float8 AS rate FROM (
      SELECT (plan->>'totalSteps')::float8 * (resources->>'flopsPerStep')::float8 AS flops,
             EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS s
      FROM runs
      WHERE status = 'SUCCEEDED' AND kind::text = ${kind} AND sweep_id IS NULL
        AND started_at IS NOT NULL AND finished_at IS NOT NULL
        AND jsonb_typeof(plan->'totalSteps') = 'number' AND jsonb_typeof(resources->'flopsPerStep') = 'number'
      ORDER BY finished_at DESC LIMIT ${RECENT_RUNS}) x`;
  const rate = rows[0]?.rate ?? null;
  return rate !== null && Number.isFinite(rate) && rate > 0 ? rate : null;
}
