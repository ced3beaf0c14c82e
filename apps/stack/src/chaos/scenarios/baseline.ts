/** The uninterrupted run every other scenario is compared with (its final weights are kept). */
import { CHAOS_TOTAL_STEPS, Checks, type Scenario } from '../harness.ts';
import { oneRowPerRank } from '../outcome.ts';

export const baseline: Scenario = {
  name: 'baseline (no fault)',
  expected: `SUCCEEDED, ${CHAOS_TOTAL_STEPS} steps, 1 attempt, no restart`,
  async run(h) {
    const c = new Checks();
    const id = await h.submit();
    const run = await h.waitForEnd(id);
    c.that(run.status === 'SUCCEEDED', `${run.status}${run.error ? ` (${run.error})` : ''}`);
    c.that(run.infraRestarts === 0 && run.userRestarts === 0, `restarts infra ${run.infraRestarts} user ${run.userRestarts}`);
    c.that((await oneRowPerRank(h, id, c)) === 1, 'one attempt');
    if (run.status === 'SUCCEEDED') {
      const { step, weights } = await h.finalWeights(id);
      c.that(step === CHAOS_TOTAL_STEPS, `final checkpoint at step ${step}`);
      h.reference = weights;
    }
    return c.result();
  },
};
