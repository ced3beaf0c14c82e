/**
 * POST /v1/runs/:id/cancel. The status change (libs/db run-lifecycle.ts cancelRun) is one conditional UPDATE (status IN active), so a
 * controller moving the run at the same moment either wins (the run is terminal: 409) or sees
 * CANCELLED. Then the waiting job is dropped and controllers/workers are told over pub/sub.
 */
import { cancelRun as cancelRunRow } from '@cim-forge/db';
import { publishCancel, runJobId } from '@cim-forge/queue';
import type { Services } from '../plugins/services.ts';
import type { Principal } from '../principal.ts';
import { conflict } from '../http-error.ts';
import type { Run } from '../schemas/run.ts';
import { runInclude, toRunResource } from './run-resource.ts';
import { findVisibleRun } from './visible-run.ts';

export async function cancelRun(svc: Services, principal: Principal, id: string, log: { warn(o: object, m: string): void }): Promise<Run> {
  const { db } = svc;
  await findVisibleRun(db, principal, id);
  const error = `cancelled by ${principal.tokenPrefix}`;
  const changed = await db.$transaction((tx) => cancelRunRow(tx, id, error));
  const run = await db.run.findUniqueOrThrow({ where: { id }, include: runInclude });
  if (!changed) throw conflict(`run ${id} is already ${run.status}; only QUEUED, STARTING, RUNNING or RESTARTING runs can be cancelled`);

  try {
    // fails when the controller holds the job (active): the pub/sub message below covers that case
    await svc.runsQueue.remove(runJobId(id));
  } catch (err) {
    log.warn({ err, runId: id }, 'cancel: run job not removed');
  }
  await publishCancel(svc.redis, id, svc.queuePrefix);
  return toRunResource(run);
}
