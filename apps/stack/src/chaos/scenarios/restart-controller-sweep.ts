/**
 * The controller killed (SIGKILL) mid-sweep (issue 22): the sweep driver runs inside it, so its
 * state must all be in PostgreSQL. A 3-trial ASHA search over the pre-training learning rate
 * (η 3: two rungs; the best trial is promoted and resumes from its checkpoint). After the kill the
 * new controller goes on from the rows: exactly 3 trial runs exist (none started twice), the
 * sweep SUCCEEDS with a best trial, and the promoted trial's events show it resumed.
 */
import { CHAOS_RUN_CONFIG, Checks, type Scenario } from '../harness.ts';

export const restartControllerSweep: Scenario = {
  name: 'kill the controller mid-sweep (SIGKILL)',
  expected: 'the sweep SUCCEEDS with a best trial; exactly maxTrials (3) trial runs; the promoted trial resumed from its checkpoint',
  async run(h) {
    const c = new Checks();
    const id = await h.submitSweep({
      name: 'chaos-sweep',
      base: { kind: 'pretrain', preset: 'smoke', config: CHAOS_RUN_CONFIG, worldSize: 1 },
      space: { baseLr: { loguniform: [0.0001, 0.01] } },
      algorithm: { name: 'asha', eta: 3, seed: 0 },
      metric: { name: 'loss', goal: 'min' },
      maxTrials: 3,
      maxConcurrent: 2,
    });
    // kill it once the first trials train (the driver has launched them and will judge their rung)
    await h.until('two trials run', 120_000, async () => ((await h.db.run.count({ where: { sweepId: id } })) >= 2 ? true : undefined));
    const first = await h.db.run.findFirstOrThrow({ where: { sweepId: id }, orderBy: { trialIndex: 'asc' } });
    await h.waitForStep(first.id, 3);
    await h.stack.restart('controller', 'SIGKILL');
    const sweep = await h.until('the sweep ends', 600_000, async () => {
      const s = await h.db.sweep.findUniqueOrThrow({ where: { id }, include: { trials: { orderBy: { index: 'asc' } } } });
      return s.status === 'RUNNING' ? undefined : s;
    });
    c.that(sweep.status === 'SUCCEEDED', `sweep ${sweep.status}${sweep.error ? `: ${sweep.error}` : ''}`);
    const runs = await h.db.run.findMany({ where: { sweepId: id }, orderBy: { trialIndex: 'asc' } });
    c.that(
      runs.length === 3 && runs.map((r) => r.trialIndex).join(',') === '0,1,2',
      `trial runs: ${runs.map((r) => `#${r.trialIndex} ${r.status}`).join(', ')}`,
    );
    const states = sweep.trials.map((t) => `${t.index}:${t.state}${t.stopReason ? ` (${t.stopReason.slice(0, 60)})` : ''}`);
    c.that(
      sweep.trials.filter((t) => t.state === 'completed').length === 1 && sweep.trials.filter((t) => t.state === 'stopped').length === 2,
      `trials ${states.join('; ')}`,
    );
    const best = sweep.trials.find((t) => t.state === 'completed');
    if (best?.runId) {
      const types = (await h.events(best.runId)).map((e) => e.type);
      c.that(
        types.includes('run.paused') && types.includes('run.promoted') && types.includes('run.resumed'),
        `best trial's run events ${types.filter((t) => t.startsWith('run.')).join(',')}`,
      );
    }
    return c.result();
  },
};
