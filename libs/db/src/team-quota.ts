/**
 * A team's run quotas, counted in the database: the runs it may have waiting and the ranks its
 * active runs may hold. A team without a quota of its own gets the defaults (the API's
 * CIM_DEFAULT_MAX_QUEUED_RUNS, CIM_DEFAULT_MAX_ACTIVE_RANKS). The API refuses a submission over
 * them (apps/api runs/team-quota.ts); the sweep driver holds a trial back until there is room
 * (apps/worker sweep-driver.ts), so a sweep's trials count against the same quota as any run.
 *
 * Count inside the transaction that inserts or re-queues the run, after `lockTeam`: a second
 * writer of the same team waits for the first to commit and then counts its run.
 */
import type { DbClient } from './run-lifecycle.ts';
import { ACTIVE_RUN_STATUSES } from './run-status.ts';

export interface DefaultQuotas {
  maxQueuedRuns: number;
  maxActiveRanks: number;
}

/** a team with no quota set: enough for real work, not enough to fill the queue for everyone */
export const DEFAULT_QUOTAS: DefaultQuotas = { maxQueuedRuns: 100, maxActiveRanks: 64 };

export type QuotaShortfall =
  | { quota: 'queued'; have: number; max: number; fromDefault: boolean }
  | { quota: 'ranks'; have: number; asked: number; max: number; fromDefault: boolean };

/** holds the team's row until the transaction ends: a team's quota is counted by one writer at a time */
export async function lockTeam(tx: DbClient, teamId: string): Promise<void> {
  await tx.$queryRaw`SELECT id FROM teams WHERE id = ${teamId}::uuid FOR UPDATE`;
}

/** null when one more queued run of `worldSize` ranks fits the team's quotas, else which quota it would pass */
export async function teamQuotaShortfall(
  db: DbClient,
  teamId: string,
  worldSize: number,
  defaults: DefaultQuotas = DEFAULT_QUOTAS,
): Promise<QuotaShortfall | null> {
  const row = await db.team.findUnique({ where: { id: teamId }, select: { maxActiveRanks: true, maxQueuedRuns: true } });
  if (!row) return null;
  const queuedMax = row.maxQueuedRuns ?? defaults.maxQueuedRuns;
  const queued = await db.run.count({ where: { teamId, status: 'QUEUED' } });
  if (queued + 1 > queuedMax) return { quota: 'queued', have: queued, max: queuedMax, fromDefault: row.maxQueuedRuns === null };
  const ranksMax = row.maxActiveRanks ?? defaults.maxActiveRanks;
  const active = await db.run.aggregate({ where: { teamId, status: { in: [...ACTIVE_RUN_STATUSES] } }, _sum: { worldSize: true } });
  const ranks = active._sum.worldSize ?? 0;
  if (ranks + worldSize > ranksMax)
    return { quota: 'ranks', have: ranks, asked: worldSize, max: ranksMax, fromDefault: row.maxActiveRanks === null };
  return null;
}
