/**
 * A hang: SIGSTOP to rank 1's process. Its worker still heartbeats, so only the collective sees
 * it: rank 0's all-reduce times out (CIM_COLLECTIVE_TIMEOUT_MS), naming rank 1 in the events.
 */
import { Checks, type Scenario } from '../harness.ts';
import { finishedLikeReference } from '../outcome.ts';

export const sigstopRank: Scenario = {
  name: 'SIGSTOP a rank process (hang)',
  expected: "rank 0's collective times out and names rank 1 (rank.lost); gang restarted; SUCCEEDED with the uninterrupted weights",
  async run(h) {
    const c = new Checks();
    const id = await h.submit();
    await h.waitForStep(id, 5);
    const { pid } = await h.rankPidOf(id, 1);
    const t0 = Date.now();
    process.kill(pid, 'SIGSTOP');
    const lost = await h
      .until('rank.lost', 60_000, async () => (await h.events(id)).find((e) => e.type === 'rank.lost'))
      .catch(() => undefined);
    const missing = (lost?.data?.missingRanks as number[] | undefined) ?? [];
    const seconds = (Date.now() - t0) / 1000;
    // CIM_COLLECTIVE_TIMEOUT_MS is 5 s in the chaos stack
    c.that(
      missing.length === 1 && missing[0] === 1 && seconds < 12,
      `noticed in ${seconds.toFixed(1)} s: ${lost?.message ?? 'no rank.lost'}`,
    );
    // the gang stop SIGKILLs the stopped process; if it did not, let it go
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone, as it should be
    }
    await finishedLikeReference(h, id, c);
    const run = await h.run(id);
    c.that(run.infraRestarts === 1, `infraRestarts ${run.infraRestarts}`);
    return c.result();
  },
};
