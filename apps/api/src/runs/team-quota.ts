/**
 * A team's quotas at submission: the highest priority it may ask for (403 above it), the runs it
 * may have waiting and the ranks it may hold (429 with Retry-After over them). Counted from the
 * runs table, so every API replica sees the same numbers; two submissions racing past the last
 * free slot may both pass (the quota is a fair-use limit, not a lock).
 */
import { ACTIVE_RUN_STATUSES, type Db } from '@cim-forge/db';
import { TooManyRequests, forbidden } from '../http-error.ts';

/** Retry-After for a quota refusal, s: about how long a queued run takes to move */
export const QUOTA_RETRY_AFTER_S = 60;

export async function checkTeamQuota(db: Db, teamId: string, worldSize: number, priority: number): Promise<void> {
  const team = await db.team.findUnique({ where: { id: teamId }, select: { maxActiveRanks: true, maxQueuedRuns: true, maxPriority: true } });
  if (!team) return;
  if (team.maxPriority !== null && priority > team.maxPriority) {
    throw forbidden(`body/priority ${priority} is above this team's highest priority ${team.maxPriority} (an admin sets it with PATCH /v1/teams/:id)`);
  }
  if (team.maxQueuedRuns !== null) {
    const queued = await db.run.count({ where: { teamId, status: 'QUEUED' } });
    if (queued + 1 > team.maxQueuedRuns) {
      throw new TooManyRequests(`this team has ${queued} queued runs, its quota is ${team.maxQueuedRuns}: retry when one has started`, QUOTA_RETRY_AFTER_S);
    }
  }
  if (team.maxActiveRanks !== null) {
    const active = await db.run.aggregate({ where: { teamId, status: { in: [...ACTIVE_RUN_STATUSES] } }, _sum: { worldSize: true } });
    const ranks = active._sum.worldSize ?? 0;
    if (ranks + worldSize > team.maxActiveRanks) {
      throw new TooManyRequests(`this team's active runs hold ${ranks} ranks; ${worldSize} more would pass its quota of ${team.maxActiveRanks}: retry when a run has finished`, QUOTA_RETRY_AFTER_S);
    }
  }
}
