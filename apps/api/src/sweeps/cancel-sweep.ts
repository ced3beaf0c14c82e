/**
 * POST /v1/sweeps/:id/cancel: the sweep RUNNING → CANCELLED (one conditional UPDATE, so the driver
 * finishing it at the same moment either wins, a 409, or sees CANCELLED and launches nothing
 * more), then every live trial's run is cancelled through the run cancel path (queued, running
 * and paused ones) and its trial marked cancelled.
 */
import type { Services } from '../plugins/services.ts';
import type { Principal } from '../principal.ts';
import { HttpError, conflict } from '../http-error.ts';
import { cancelRun } from '../runs/cancel-run.ts';
import { findVisibleSweep } from './sweep-resource.ts';

const ENDED_TRIALS = ['stopped', 'completed', 'failed', 'cancelled'];

export async function cancelSweep(svc: Services, principal: Principal, id: string, log: { warn(o: object, m: string): void }): Promise<void> {
  const { db } = svc;
  const sweep = await findVisibleSweep(db, principal, id);
  const reason = `sweep cancelled by ${principal.tokenPrefix}`;
  const moved = await db.sweep.updateMany({
    where: { id, status: 'RUNNING' },
    data: { status: 'CANCELLED', error: reason, finishedAt: new Date() },
  });
  if (moved.count !== 1) throw conflict(`sweep ${id} is already ${sweep.status}; only a RUNNING sweep can be cancelled`);
  await db.sweepTrial.updateMany({
    where: { sweepId: id, state: { notIn: ENDED_TRIALS } },
    data: { state: 'cancelled', stopReason: reason },
  });
  const live = await db.run.findMany({
    where: { sweepId: id, status: { in: ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING', 'PAUSED'] } },
    select: { id: true },
  });
  for (const r of live) {
    try {
      await cancelRun(svc, principal, r.id, log);
    } catch (e) {
      // it finished meanwhile (409): nothing to stop
      if (!(e instanceof HttpError && e.statusCode === 409)) throw e;
    }
  }
}
