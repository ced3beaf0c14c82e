/**
 * The controller restarted mid-run: gracefully (SIGTERM, a rolling update: it hands its runs
 * back to the queue) or crashed (SIGKILL: its run job stalls and is taken over after
 * CIM_CONTROLLER_LOCK_MS). Either way the new controller watches the attempt in flight.
 */
import { Checks, type Scenario } from '../harness.ts';
import { finishedLikeReference, oneRowPerRank } from '../outcome.ts';

function restartController(signal: 'SIGTERM' | 'SIGKILL'): Scenario {
  return {
    name: `restart the controller (${signal})`,
    expected: 'SUCCEEDED with the uninterrupted weights; exactly 1 attempt (nothing started twice), no restart',
    async run(h) {
      const c = new Checks();
      const id = await h.submit();
      await h.waitForStep(id, 5);
      await h.stack.restart('controller', signal);
      await finishedLikeReference(h, id, c);
      const run = await h.run(id);
      c.that(run.infraRestarts === 0, `infraRestarts ${run.infraRestarts}`);
      c.that((await oneRowPerRank(h, id, c)) === 1, 'exactly one attempt');
      const types = (await h.events(id)).map((e) => e.type);
      c.that(
        types.filter((t) => t === 'run.attempt').length === 1 && types.filter((t) => t === 'run.succeeded').length === 1,
        `events ${types.filter((t) => t.startsWith('run.')).join(',')}`,
      );
      return c.result();
    },
  };
}

export const restartControllerGraceful = restartController('SIGTERM');
export const restartControllerCrash = restartController('SIGKILL');
