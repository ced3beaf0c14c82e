/** kill -9 of a rank process mid-run: the gang restarts from the latest COMPLETE checkpoint. */
import { Checks, type Scenario } from '../harness.ts';
import { finishedLikeReference, oneRowPerRank } from '../outcome.ts';

export const killRank: Scenario = {
  name: 'kill -9 a rank process',
  expected:
    'rank.failed (killed by SIGKILL); gang restarted, infraRestarts 1; resumed from a checkpoint; SUCCEEDED with the uninterrupted weights',
  async run(h) {
    const c = new Checks();
    const id = await h.submit();
    await h.waitForStep(id, 5);
    const { pid } = await h.rankPidOf(id, 1);
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    const restart = await h
      .until('the restart', 60_000, async () => (await h.events(id)).find((e) => e.type === 'run.restart'))
      .catch(() => undefined);
    const seconds = (Date.now() - t0) / 1000;
    c.that(!!restart && seconds < 10, `restart decided ${seconds.toFixed(1)} s after the kill`);
    await finishedLikeReference(h, id, c);
    const run = await h.run(id);
    c.that(run.infraRestarts === 1, `infraRestarts ${run.infraRestarts}`);
    const ev = await h.events(id);
    const failed = ev.find((e) => e.type === 'rank.failed');
    c.that(/SIGKILL/.test(failed?.message ?? ''), `event: ${failed?.message ?? 'no rank.failed'}`);
    const resumed = ev.find((e) => e.type === 'run.resumed');
    c.that(!!resumed, `event: ${resumed?.message ?? 'no run.resumed'}`);
    await oneRowPerRank(h, id, c);
    return c.result();
  },
};
