/**
 * An error in the run itself: its loss turns NaN after step 4 (the workers' test-only fault setting
 * CIM_FAULT_NON_FINITE_LOSS names this run; the run contract refuses a wild lr, so no config can
 * get there). FAILED at once as the user's error, with the reason, no restart, and the last good
 * checkpoint (step 4) kept, its weights finite.
 */
import { CHAOS_RUN_CONFIG, Checks, NON_FINITE_LOSS_RUN, NON_FINITE_LOSS_STEP, type Scenario } from '../harness.ts';

export const nonFiniteLoss: Scenario = {
  name: `non-finite loss (NaN after step ${NON_FINITE_LOSS_STEP}, fault injection)`,
  expected:
    'FAILED at once, category user, error names the non-finite loss and its step; infraRestarts 0, userRestarts 0, 1 attempt; ' +
    `the checkpoint of step ${NON_FINITE_LOSS_STEP} kept (COMPLETE, finite weights)`,
  async run(h) {
    const c = new Checks();
    const id = await h.submit(CHAOS_RUN_CONFIG, { name: NON_FINITE_LOSS_RUN });
    const run = await h.waitForEnd(id);
    const why = new RegExp(`non-finite loss \\(NaN\\) at step ${NON_FINITE_LOSS_STEP}\\b`);
    c.that(run.status === 'FAILED' && why.test(run.error ?? ''), `${run.status}: ${run.error}`);
    c.that(run.failureCategory === 'user', `category ${run.failureCategory}`);
    c.that(run.infraRestarts === 0 && run.userRestarts === 0, `restarts infra ${run.infraRestarts} user ${run.userRestarts}`);
    const attempts = new Set((await h.attempts(id)).map((r) => r.attempt));
    c.that(attempts.size === 1, `${attempts.size} attempt(s)`);
    const last = (await h.checkpoints(id)).at(-1);
    c.that(last?.step === NON_FINITE_LOSS_STEP, `newest COMPLETE checkpoint at step ${last?.step ?? 'none'}`);
    if (last) {
      const weights = await h.weights(id, last.storeId);
      let bad = 0;
      for (const t of weights.values()) for (const x of t) if (!Number.isFinite(x)) bad++;
      c.that(weights.size > 0 && bad === 0, `its ${weights.size} tensors: ${bad} non-finite values`);
    }
    return c.result();
  },
};
