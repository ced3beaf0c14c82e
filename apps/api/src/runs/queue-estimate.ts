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
