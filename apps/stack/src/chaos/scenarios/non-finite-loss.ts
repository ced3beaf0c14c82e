/** An error in the run itself (lr 1e6 → non-finite loss): FAILED at once with the reason, no restart. */
import { CHAOS_RUN_CONFIG, Checks, type Scenario } from '../harness.ts';

export const nonFiniteLoss: Scenario = {
  name: 'non-finite loss (baseLr 1e6)',
  expected: 'FAILED at once, error names the non-finite loss; infraRestarts 0, userRestarts 0, 1 attempt',
  async run(h) {
    const c = new Checks();
    const id = await h.submit({ ...CHAOS_RUN_CONFIG, baseLr: 1e6, warmupEpochs: 0 });
    const run = await h.waitForEnd(id);
    c.that(run.status === 'FAILED' && /non-finite loss/.test(run.error ?? ''), `${run.status}: ${run.error}`);
    c.that(run.infraRestarts === 0 && run.userRestarts === 0, `restarts infra ${run.infraRestarts} user ${run.userRestarts}`);
    const attempts = new Set((await h.attempts(id)).map((r) => r.attempt));
    c.that(attempts.size === 1, `${attempts.size} attempt(s)`);
    return c.result();
  },
};
