/** Run status transitions as conditional UPDATEs: a transition applies only from the states it names. */
import type { Db, RunStatus } from '@cim-forge/db';

export const ACTIVE_STATUSES: RunStatus[] = ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING'];
export const TERMINAL_STATUSES: RunStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export function isTerminal(s: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

/** Moves the run to `to` if it is in one of `from`; true when it did. */
export async function transition(db: Db, runId: string, from: RunStatus[], to: RunStatus, extra: { error?: string | null; startedAt?: Date; finishedAt?: Date } = {}): Promise<boolean> {
  const r = await db.run.updateMany({ where: { id: runId, status: { in: from } }, data: { status: to, ...extra } });
  return r.count === 1;
}

/** RUNNING, stamping startedAt the first time only */
export async function markRunning(db: Db, runId: string): Promise<boolean> {
  const n = await db.$executeRaw`
    UPDATE runs SET status = 'RUNNING', started_at = COALESCE(started_at, now()), updated_at = now()
    WHERE id = ${runId}::uuid AND status IN ('QUEUED', 'STARTING', 'RESTARTING')`;
  return n === 1;
}
