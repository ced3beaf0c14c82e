/**
 * kill -9 of a worker process (its rank child exits when its parent is gone): its heartbeats
 * stop, the controller declares the rank lost after CIM_HEARTBEAT_TIMEOUT_MS, and the gang
 * restarts once the worker is back (as Kubernetes would restart it).
 */
import { Checks, type Scenario } from '../harness.ts';
import { finishedLikeReference } from '../outcome.ts';

export const killWorker: Scenario = {
  name: 'kill -9 a worker process',
  expected: 'rank.lost (heartbeat) within seconds; orphaned rank exits; gang restarted; SUCCEEDED with the uninterrupted weights',
  async run(h) {
    const c = new Checks();
    const id = await h.submit();
    await h.waitForStep(id, 5);
    const { worker, pid } = await h.rankPidOf(id, 1);
    const t0 = Date.now();
    await h.stack.stop(worker, 'SIGKILL');
    await h
      .until(`orphaned rank ${pid} exits`, 15_000, async () => {
        try {
          process.kill(pid, 0);
          return undefined;
        } catch {
          return true;
        }
      })
      .then(
        () => c.that(true, 'orphaned rank process exited'),
        () => c.that(false, `orphaned rank process ${pid} still alive`),
      );
    const lost = await h
      .until('rank.lost', 60_000, async () => (await h.events(id)).find((e) => e.type === 'rank.lost'))
      .catch(() => undefined);
    const seconds = (Date.now() - t0) / 1000;
    // CIM_HEARTBEAT_TIMEOUT_MS is 6 s in the chaos stack, the controller looks every 0.5 s
    c.that(!!lost && seconds < 12, `noticed in ${seconds.toFixed(1)} s: ${lost?.message ?? 'no rank.lost'}`);
    await h.stack.start(worker);
    await finishedLikeReference(h, id, c);
    const run = await h.run(id);
    c.that(run.infraRestarts >= 1 && run.infraRestarts <= run.maxRestarts, `infraRestarts ${run.infraRestarts}`);
    return c.result();
  },
};
