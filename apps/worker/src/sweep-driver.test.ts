// The sweep driver with the real controller, workers, PostgreSQL and Redis; the rank process is the
// stand-in (testing/fake-rank-runner.ts `trial`): it records a made-up metric per step up to the
// run's stopAtStep, resuming from the last step it recorded. What is checked is the driver's
// bookkeeping: ASHA's rungs, stops with reasons, promotions that re-queue the SAME run (and resume),
// at most maxConcurrent live trials, no duplicate trial across a driver restart and two drivers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { drawTrial, rungSlots } from '@cim-forge/sweep';
import type { SearchSpace } from '@cim-forge/config';
import { SweepDriver, type StoredSweepSpec } from './sweep-driver.ts';
import { fakeTrialScore } from './testing/fake-trial.ts';
import { startClusterFixture, type ClusterFixture } from './testing/cluster-fixture.ts';
import type { ServiceFixture } from './testing/service-fixture.ts';

let cluster: ClusterFixture;
let fx: ServiceFixture;

before(async () => {
  cluster = await startClusterFixture({
    env: { CIM_HEARTBEAT_MS: '300', CIM_HEARTBEAT_TIMEOUT_MS: '10000' },
    workers: 3,
    controller: { pollMs: 150 },
  });
  fx = cluster.fx;
});

after(() => cluster?.close());

const TOTAL = 27;
const space: SearchSpace = { baseLr: { loguniform: [0.0001, 0.1] } };

async function insertSweep(maxTrials: number, maxConcurrent: number): Promise<{ id: string; spec: StoredSweepSpec }> {
  const trials = Array.from({ length: maxTrials }, (_, index) => {
    const params = drawTrial(space, 0, index);
    return {
      index,
      params,
      config: { baseLr: params.baseLr, fake: { trial: { totalSteps: TOTAL, metric: 'val_top1' } } },
      plan: {},
      resources: {},
    };
  });
  const spec: StoredSweepSpec = {
    space,
    algorithm: { name: 'asha', seed: 0, eta: 3, budgetUnit: 'steps', gracePeriod: 3, maxBudget: TOTAL },
    metric: { name: 'val_top1', goal: 'max' },
    maxTrials,
    maxConcurrent,
    totalSteps: TOTAL,
    rungs: [3, 9, 27],
    worldSize: 1,
    preset: null,
    maxRestarts: 3,
    sourceCheckpointId: null,
    trials,
  };
  const sweep = await fx.db.sweep.create({
    data: { teamId: fx.teamId, name: 'lr-asha', kind: 'finetune', base: {}, spec: spec as object },
  });
  await fx.db.sweepTrial.createMany({ data: trials.map((t) => ({ sweepId: sweep.id, index: t.index, params: t.params })) });
  return { id: sweep.id, spec };
}

test('an ASHA sweep of 9 trials: 3 at a time, 8 stopped with a reason, promoted trials resume the same run, the best wins', async () => {
  const { id, spec } = await insertSweep(9, 3);
  const log: string[] = [];
  // two drivers at once, the first closed mid-sweep and replaced: no trial may start twice
  let stops = 0;
  const onEarlyStop = () => stops++;
  let d1 = new SweepDriver({ db: fx.db, runsQueue: fx.runs, pollMs: 100, log: (m) => log.push(m), onEarlyStop });
  const d2 = new SweepDriver({ db: fx.db, runsQueue: fx.runs, pollMs: 170, onEarlyStop });
  const d3 = new SweepDriver({ db: fx.db, runsQueue: fx.runs, pollMs: 130, onEarlyStop });
  d1.start();
  d2.start();
  let maxLive = 0;
  const deadline = Date.now() + 120_000;
  let restarted = false;
  try {
    for (;;) {
      const live = await fx.db.run.count({ where: { sweepId: id, status: { in: ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING'] } } });
      maxLive = Math.max(maxLive, live);
      const s = await fx.db.sweep.findUniqueOrThrow({ where: { id } });
      if (!restarted && (await fx.db.run.count({ where: { sweepId: id } })) >= 4) {
        await d1.close();
        d1 = d3;
        d1.start();
        restarted = true;
      }
      if (s.status !== 'RUNNING') break;
      assert.ok(Date.now() < deadline, `sweep still RUNNING after 120 s: ${log.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    // a failed assertion must not leave a driver polling (the file would never end)
    await Promise.all([d1.close(), d2.close(), d3.close()]);
  }
  assert.ok(restarted);

  const sweep = await fx.db.sweep.findUniqueOrThrow({ where: { id }, include: { trials: { orderBy: { index: 'asc' } } } });
  assert.equal(sweep.status, 'SUCCEEDED', sweep.error ?? '');
  const runs = await fx.db.run.findMany({ where: { sweepId: id }, orderBy: { trialIndex: 'asc' } });
  assert.deepEqual(
    runs.map((r) => r.trialIndex),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.ok(maxLive <= 3 && maxLive >= 2, `at most maxConcurrent live, saw ${maxLive}`);

  // ASHA with η 3 over 9 trials: 9 reach rung 0, 3 rung 1, 1 rung 2
  assert.deepEqual(rungSlots({ ...spec, trials: spec.trials }).reach, [9, 3, 1]);
  const states = sweep.trials.map((t) => t.state);
  assert.equal(states.filter((s) => s === 'completed').length, 1);
  assert.equal(states.filter((s) => s === 'stopped').length, 8);
  assert.equal(stops, 8, 'one early-stop count per stopped trial, whichever driver stopped it');
  for (const t of sweep.trials.filter((x) => x.state === 'stopped'))
    assert.match(t.stopReason ?? '', /^rung [01] \(step (3|9)\): val_top1 [\d.]+ is not in the top/);

  // the rung metrics are the run's recorded values at the rung steps
  const lr = (i: number) => spec.trials[i].params.baseLr as number;
  for (const t of sweep.trials) {
    const m = t.rungMetrics as number[];
    for (let k = 0; k < m.length; k++) assert.equal(m[k], fakeTrialScore(lr(t.index), spec.rungs[k]), `trial ${t.index} rung ${k}`);
  }
  const best = sweep.trials.find((t) => t.state === 'completed')!;
  const closest = spec.trials.reduce((a, b) => (Math.abs(Math.log10(lr(b.index)) + 2) < Math.abs(Math.log10(lr(a.index)) + 2) ? b : a));
  assert.equal(best.index, closest.index);
  assert.deepEqual(
    best.rungMetrics,
    [3, 9, 27].map((s) => fakeTrialScore(lr(best.index), s)),
  );

  // promoted trials: the SAME run, queued again and resumed from where it paused
  const promoted = sweep.trials.filter((t) => (t.rungMetrics as unknown[]).length > 1);
  assert.equal(promoted.length, 3);
  for (const t of promoted) {
    const ev = await fx.db.runEvent.findMany({ where: { runId: t.runId! }, orderBy: { id: 'asc' } });
    const types = ev.map((e) => e.type);
    const rungs = (t.rungMetrics as unknown[]).length;
    assert.equal(types.filter((x) => x === 'run.paused').length, t.state === 'completed' ? rungs - 1 : rungs, types.join(','));
    assert.equal(types.filter((x) => x === 'run.promoted').length, rungs - 1, types.join(','));
    const resumed = ev.filter((e) => e.type === 'run.resumed').map((e) => (e.data as { step: number }).step);
    assert.deepEqual(resumed, spec.rungs.slice(0, rungs - 1), types.join(','));
  }
  const bestRun = runs.find((r) => r.id === best.runId)!;
  assert.equal(bestRun.status, 'SUCCEEDED');
  assert.equal((bestRun.config as { stopAtStep: unknown }).stopAtStep, null);
  for (const t of sweep.trials.filter((x) => x.state === 'stopped')) {
    const r = runs.find((x) => x.id === t.runId)!;
    assert.equal(r.status, 'CANCELLED');
    assert.match(r.error ?? '', /^stopped early by sweep/);
  }
});

test("a sweep's trials count against the team's quota: over it, a trial waits instead of queueing", async () => {
  // room for exactly one more rank, whatever this team's other runs hold now
  const held = await fx.db.run.aggregate({
    where: { teamId: fx.teamId, status: { in: ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING'] } },
    _sum: { worldSize: true },
  });
  const quota = (held._sum.worldSize ?? 0) + 1;
  await fx.db.team.update({ where: { id: fx.teamId }, data: { maxActiveRanks: quota } });
  const { id } = await insertSweep(3, 3);
  try {
    const log: string[] = [];
    const d = new SweepDriver({ db: fx.db, runsQueue: fx.runs, log: (m) => log.push(m) });
    await d.step(id);
    const trials = await fx.db.sweepTrial.findMany({ where: { sweepId: id }, orderBy: { index: 'asc' } });
    assert.equal(await fx.db.run.count({ where: { sweepId: id } }), 1, log.join('\n'));
    assert.deepEqual(
      trials.map((t) => t.state),
      ['running', 'pending', 'pending'],
    );
    const waits = log.filter((m) => m.includes(`waits for the team's ranks quota (${quota} of ${quota})`));
    assert.deepEqual(
      waits.map((m) => /trial (\d+) waits/.exec(m)?.[1]),
      ['1', '2'],
      log.join('\n'),
    );
  } finally {
    await fx.db.sweep.update({ where: { id }, data: { status: 'CANCELLED' } });
    await fx.db.team.update({ where: { id: fx.teamId }, data: { maxActiveRanks: null } });
  }
});
