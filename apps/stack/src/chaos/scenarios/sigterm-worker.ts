/**
 * An eviction: SIGTERM to the worker running rank 0, mid-run. The gang checkpoints at the next
 * step boundary and exits (code 13); the run is requeued without spending its budget, resumes
 * from that checkpoint, and ends with the uninterrupted run's weights (exact resume).
 */
import { Checks, type Scenario } from '../harness.ts';
import { finishedLikeReference } from '../outcome.ts';

export const sigtermWorker: Scenario = {
  name: 'SIGTERM a worker (eviction), exact resume',
  expected:
    'gang checkpoints and stops; requeued with infraRestarts 0; resumes at the stop step; SUCCEEDED with the uninterrupted weights (rel. err ≤ 1e-6)',
  async run(h) {
    const c = new Checks();
    const id = await h.submit();
    await h.waitForStep(id, 5);
    const worker = await h.workerOf(id, 0);
    await h.stack.stop(worker, 'SIGTERM');
    const stopRows = (await h.attempts(id)).filter((r) => r.attempt === 0);
    const ended = stopRows.map((r) => `${r.status} ${r.failureCategory ?? ''}`).join(', ');
    c.that(
      stopRows.every((r) => r.failureCategory === 'stopped'),
      `attempt 0 ranks ended "${ended}"`,
    );
    await h.stack.start(worker);
    await finishedLikeReference(h, id, c);
    const run = await h.run(id);
    c.that(run.infraRestarts === 0 && run.userRestarts === 0, `infraRestarts ${run.infraRestarts}`);
    const ev = await h.events(id);
    const restart = ev.find((e) => e.type === 'run.restart');
    c.that(restart?.data?.cause === 'stopped', `restart cause ${String(restart?.data?.cause)}`);
    // the checkpoint the stopped gang wrote (the last one before the restart) is the one resumed
    const restartAt = ev.findIndex((e) => e.type === 'run.restart');
    const stopCkpt = ev
      .slice(0, restartAt)
      .filter((e) => e.type === 'checkpoint.complete')
      .at(-1);
    const resumed = ev.find((e) => e.type === 'run.resumed');
    c.that(
      !!resumed && !!stopCkpt && resumed.data?.step === stopCkpt.data?.step && Number(resumed.data?.step) >= 5,
      `event: ${resumed?.message ?? 'no run.resumed'} (the stop checkpoint: step ${String(stopCkpt?.data?.step)})`,
    );
    return c.result();
  },
};
