/**
 * Redis or PostgreSQL down for a few seconds mid-run (the stack runs on private instances; the
 * scenario crashes one and starts it again). The run must still finish — or fail with a clear
 * reason once its budget is spent — with no job lost and no rank started twice.
 */
import { Checks, sleep, type Scenario } from '../harness.ts';
import type { PrivateServer } from '../private-services.ts';
import { finishedLikeReference, oneRowPerRank } from '../outcome.ts';

export function outage(what: 'Redis' | 'PostgreSQL', server: () => PrivateServer, downMs = 6000): Scenario {
  return {
    name: `${what} down ${downMs / 1000} s mid-run`,
    expected:
      'SUCCEEDED with the uninterrupted weights (or FAILED naming the cause after the budget); no job lost; one row per rank per attempt',
    async run(h) {
      const c = new Checks();
      const id = await h.submit();
      await h.waitForStep(id, 5);
      await server().stop();
      await sleep(downMs);
      await server().start();
      const run = await h.waitForEnd(id);
      if (run.status === 'FAILED') {
        c.that(/restart budget|gave up/.test(run.error ?? ''), `FAILED after its budget: ${run.error}`);
      } else {
        await finishedLikeReference(h, id, c);
      }
      const after = await h.run(id);
      c.that(after.infraRestarts <= after.maxRestarts + 1, `infraRestarts ${after.infraRestarts}`);
      await oneRowPerRank(h, id, c);
      return c.result();
    },
  };
}
