/**
 * Fair share between teams at gang admission. A rank job's BullMQ priority is the run's priority
 * first, then its team's recent usage: the ranks of the team's runs queued before this one that
 * are still active or finished within FAIR_SHARE_WINDOW. So at equal priority two teams that each
 * queue ten runs are admitted A, B, A, B, … (each team's k-th run carries usage k − 1), and a team
 * that has just used the cluster heavily waits behind one that has not. Computed from the runs
 * table alone, so the result does not depend on which controller, or in which order, took the runs.
 */
import { ACTIVE_RUN_STATUSES, type Db, type Run } from '@cim-forge/db';
import { FAIR_SHARE_STEPS, rankJobPriority } from '@cim-forge/queue';

/** how far back finished runs count as usage, ms */
export const FAIR_SHARE_WINDOW_MS = 60 * 60 * 1000;

export async function teamUsageAhead(db: Db, run: Pick<Run, 'id' | 'teamId' | 'queuedAt' | 'createdAt'>): Promise<number> {
  const since = new Date(Date.now() - FAIR_SHARE_WINDOW_MS);
  const queuedAt = run.queuedAt ?? run.createdAt;
  const r = await db.run.aggregate({
    where: {
      teamId: run.teamId,
      id: { not: run.id },
      OR: [{ queuedAt: { lt: queuedAt } }, { queuedAt, id: { lt: run.id } }],
      AND: [{ OR: [{ status: { in: [...ACTIVE_RUN_STATUSES] } }, { finishedAt: { gte: since } }] }],
    },
    _sum: { worldSize: true },
  });
  return r._sum.worldSize ?? 0;
}

/**
 * A first attempt is placed by its team's usage; a restarted gang (attempt > 0: a released
 * rendezvous, an infrastructure restart) goes to the back of its priority, as a requeue always
 * did, so a gang that cannot assemble never stands before the runs queued behind it.
 */
export async function fairRankPriority(db: Db, run: Run, attempt: number): Promise<number> {
  if (attempt > 0) return rankJobPriority(run.priority, FAIR_SHARE_STEPS - 1);
  return rankJobPriority(run.priority, await teamUsageAhead(db, run));
}
