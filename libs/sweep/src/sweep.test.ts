import { test } from 'node:test';
import assert from 'node:assert/strict';
import { finetunePresets, presets, resolveFinetuneConfig, resolvePretrainConfig, type FinetuneConfig } from '@cim-forge/config';
import { Rng } from '@cim-forge/random';
import {
  applyDecision,
  applyParams,
  best,
  decide,
  resolveSweep,
  sweepFinished,
  SweepSpecError,
  metricAt,
  type ResolvedSweep,
  type SweepDecision,
  type SweepFields,
  type TrialReport,
} from './index.ts';

const smokeFt = (): FinetuneConfig => resolveFinetuneConfig(finetunePresets.smoke.config);
const ashaFields = (over: Partial<SweepFields> = {}): SweepFields => ({
  space: { baseLr: { loguniform: [1e-4, 0.1] } },
  algorithm: { name: 'asha', eta: 3, seed: 0 },
  metric: { name: 'val_top1', goal: 'max' },
  maxTrials: 9,
  maxConcurrent: 3,
  ...over,
});

test('resolveSweep: the issue body (9-trial ASHA over the smoke fine-tune lr) plans 3 rungs from the run length', () => {
  const r = resolveSweep('finetune', smokeFt(), ashaFields());
  // 512 images, valFraction 0.1 carved → 461 left, 14 steps of 32; rungs 14/9, 14/3, 14
  assert.equal(r.totalSteps, 14);
  assert.deepEqual(r.rungs, [2, 5, 14]);
  assert.deepEqual(r.algorithm, { name: 'asha', seed: 0, eta: 3, budgetUnit: 'steps', gracePeriod: 1.55555555556, maxBudget: 14 });
  assert.equal(r.maxConcurrent, 3);
  assert.equal((r.baseConfig as FinetuneConfig).valFraction, 0.1);
  assert.match(r.notes[0], /valFraction set to 0.1 because the metric is val_top1/);
  assert.equal(r.trials.length, 9);
  for (const t of r.trials) {
    const v = t.params.baseLr as number;
    assert.ok(v >= 1e-4 && v < 0.1, `${v}`);
  }
  // seeded draws are stable (golden values) and differ by seed
  assert.deepEqual(
    r.trials.slice(0, 3).map((t) => t.params.baseLr),
    [0.00342391758468, 0.041190281347, 0.000109669879665],
  );
  const again = resolveSweep('finetune', smokeFt(), ashaFields());
  assert.deepEqual(again.trials, r.trials);
  const other = resolveSweep('finetune', smokeFt(), ashaFields({ algorithm: { name: 'asha', seed: 1 } }));
  assert.notDeepEqual(other.trials[0].params, r.trials[0].params);
  // without a validation metric nothing changes: 512 / 32 = 16 steps
  const loss = resolveSweep('finetune', smokeFt(), ashaFields({ metric: { name: 'loss', goal: 'min' } }));
  assert.equal(loss.totalSteps, 16);
  assert.deepEqual(loss.rungs, [2, 5, 16]);
  assert.deepEqual(loss.notes, ['gracePeriod 1.77777777778 steps: maxBudget / η^2']);
});

test('resolveSweep: explicit budgets in epochs, and a pre-training base', () => {
  const r = resolveSweep(
    'finetune',
    resolveFinetuneConfig({ ...finetunePresets.smoke.config, epochs: 4 }),
    ashaFields({
      algorithm: { name: 'asha', eta: 2, budgetUnit: 'epochs', gracePeriod: 0.5, maxBudget: 4 },
      metric: { name: 'eval_top1', goal: 'max' },
    }),
  );
  assert.deepEqual(r.rungs, [8, 16, 32, 64]);
  const p = resolveSweep('pretrain', resolvePretrainConfig('smoke'), {
    space: { baseLr: { loguniform: [1e-4, 1e-2] }, 'sampler.searchFlipP': { uniform: [0, 1] } },
    algorithm: { name: 'random', seed: 3 },
    metric: { name: 'loss', goal: 'min' },
    maxTrials: 4,
  });
  assert.equal(presets.smoke.config.batchSize, 32);
  assert.deepEqual(p.rungs, [32]);
  assert.deepEqual(Object.keys(p.trials[0].params), ['baseLr', 'sampler.searchFlipP']);
  const cfg = applyParams(p.baseConfig, p.trials[0].params);
  assert.equal(cfg.baseLr, p.trials[0].params.baseLr);
  assert.equal(
    (cfg as { sampler: { searchFlipP: number; searchSize: number } }).sampler.searchFlipP,
    p.trials[0].params['sampler.searchFlipP'],
  );
  assert.equal((cfg as { sampler: { searchSize: number } }).sampler.searchSize, 48, 'the nested object keeps its other fields');
  assert.equal((p.baseConfig as { sampler: { searchFlipP?: number } }).sampler.searchFlipP, undefined, 'the base is not changed');
});

test('resolveSweep: a grid of 2 × 3 gives 6 trials in order (first key outermost); int domains give integers', () => {
  const r = resolveSweep('finetune', smokeFt(), {
    space: { layerDecay: { choice: [0.65, 0.75] }, baseLr: { loguniform: [1e-3, 1e-1], grid: 3 } },
    algorithm: { name: 'grid' },
    metric: { name: 'eval_top1', goal: 'max' },
    maxTrials: 6,
  });
  assert.deepEqual(
    r.trials.map((t) => [t.params.baseLr, t.params.layerDecay]),
    [
      [0.001, 0.65],
      [0.001, 0.75],
      [0.01, 0.65],
      [0.01, 0.75],
      [0.1, 0.65],
      [0.1, 0.75],
    ],
  );
  assert.deepEqual(r.rungs, [16]);
  const ints = resolveSweep('finetune', smokeFt(), {
    space: { 'randAugment.n': { int: [0, 3] } },
    algorithm: { name: 'random', seed: 5 },
    metric: { name: 'eval_top1', goal: 'max' },
    maxTrials: 40,
  });
  const ns = ints.trials.map((t) => t.params['randAugment.n'] as number);
  assert.ok(ns.every((n) => Number.isInteger(n) && n >= 0 && n <= 3));
  assert.deepEqual([...new Set(ns)].sort(), [0, 1, 2, 3]);
  const c = applyParams(ints.baseConfig, ints.trials[0].params) as FinetuneConfig;
  assert.deepEqual(c.randAugment, { n: ns[0], m: 9, mstd: 0.5 });
});

test('resolveSweep: loguniform draws are inside the bounds and log-uniform (each decade holds a third)', () => {
  const r = resolveSweep('finetune', smokeFt(), {
    space: { baseLr: { loguniform: [1e-4, 1e-1] } },
    algorithm: { name: 'random', seed: 11 },
    metric: { name: 'eval_top1', goal: 'max' },
    maxTrials: 256,
  });
  const decades = [0, 0, 0];
  for (const t of r.trials) {
    const v = t.params.baseLr as number;
    assert.ok(v >= 1e-4 && v <= 1e-1);
    decades[Math.min(2, Math.floor(Math.log10(v) + 4))]++;
  }
  // chi-square with 2 degrees of freedom below 9.21 (p = 0.01); a uniform draw would put ~90% in the top decade
  const chi = decades.reduce((a, n) => a + (n - 256 / 3) ** 2 / (256 / 3), 0);
  assert.ok(chi < 9.21, `decades ${decades} chi² ${chi}`);
});

test('resolveSweep: every refusal names its field and says why', () => {
  const refuse = (fields: SweepFields, field: string, reason: RegExp, base: FinetuneConfig = smokeFt()) => {
    assert.throws(
      () => resolveSweep('finetune', base, fields),
      (e: unknown) => {
        assert.ok(e instanceof SweepSpecError, String(e));
        assert.equal(e.field, field);
        assert.match(e.reason, reason);
        assert.ok(!e.message.includes('\n'));
        return true;
      },
    );
  };
  refuse(ashaFields({ space: {} }), 'space', /empty/);
  refuse(ashaFields({ space: { learningRate: { uniform: [0, 1] } } }), 'space/learningRate', /finetune has no config field "learningRate"/);
  refuse(ashaFields({ space: { 'randAugment.q': { int: [0, 1] } } }), 'space/randAugment.q', /randAugment has no field "q"/);
  refuse(ashaFields({ space: { dataset: { choice: [1] } } }), 'space/dataset', /not a numeric or choosable field/);
  refuse(ashaFields({ space: { model: { uniform: [0, 1] } } }), 'space/model', /not numeric: use choice/);
  refuse(ashaFields({ space: { stopAtStep: { int: [1, 3] } } }), 'space/stopAtStep', /set by the sweep/);
  refuse(
    ashaFields({ space: { baseLr: { uniform: [0, 20] } } }),
    'space/baseLr/uniform/1',
    /20 is out of baseLr's bounds \(baseLr must be <= 10\)/,
  );
  refuse(ashaFields({ space: { layerDecay: { choice: [0.5, 2] } } }), 'space/layerDecay/choice/1', /out of layerDecay's bounds/);
  refuse(ashaFields({ space: { baseLr: { loguniform: [0, 0.1] } } }), 'space/baseLr/loguniform', /low must be > 0, got 0/);
  refuse(ashaFields({ space: { baseLr: { uniform: [0.1, 0.1] } } }), 'space/baseLr/uniform', /low must be < high/);
  refuse(ashaFields({ space: { batchSize: { uniform: [8, 64] } } }), 'space/batchSize/uniform', /integer field: use int/);
  refuse(
    {
      space: { baseLr: { choice: [1e-3, 1e-2, 1e-1] }, layerDecay: { choice: [0.5, 0.6] } },
      algorithm: { name: 'grid' },
      metric: { name: 'eval_top1', goal: 'max' },
      maxTrials: 5,
    },
    'maxTrials',
    /the grid has 6 points, more than maxTrials 5/,
  );
  refuse(
    {
      space: { baseLr: { uniform: [0.001, 0.01] } },
      algorithm: { name: 'grid' },
      metric: { name: 'eval_top1', goal: 'max' },
      maxTrials: 5,
    },
    'space/baseLr',
    /needs "grid"/,
  );
  refuse(ashaFields({ algorithm: { name: 'asha', eta: 1.5 } }), 'algorithm/eta', /η must be at least 2, got 1.5/);
  refuse(ashaFields({ metric: { name: 'iou', goal: 'max' } }), 'metric/name', /finetune runs do not record "iou"/);
  refuse(
    ashaFields({ algorithm: { name: 'asha', maxBudget: 100 } }),
    'algorithm/maxBudget',
    /100 steps \(100 steps\) is longer than the base run \(14 steps\)/,
  );
  refuse(
    ashaFields({ algorithm: { name: 'asha', budgetUnit: 'epochs', maxBudget: 2 } }),
    'algorithm/maxBudget',
    /longer than the base run/,
  );
  refuse(ashaFields({ algorithm: { name: 'asha', gracePeriod: 20, maxBudget: 10 } }), 'algorithm/gracePeriod', /longer than maxBudget/);
  refuse(ashaFields({ space: { epochs: { int: [1, 3] } } }), 'space/epochs', /changes the run's length/);
  assert.throws(
    () =>
      resolveSweep('pretrain', resolvePretrainConfig('smoke'), {
        space: { 'sampler.contextSize': { choice: [32, 40] } },
        algorithm: { name: 'grid' },
        metric: { name: 'loss', goal: 'min' },
        maxTrials: 2,
      }),
    (e: unknown) =>
      e instanceof SweepSpecError && e.field === 'space' && /trial 1 .* sampler contextSize 40 differs from the model's 32/.test(e.reason),
  );
});

/** a stand-in for training: trial i's metric at rung k, seeded, with ties */
function fakeMetric(r: ResolvedSweep, index: number, rung: number): number {
  const lr = r.trials[index].params.baseLr as number;
  return Math.round(100 * (1 - Math.abs(Math.log10(lr) + 2.5) / 3) + rung) / 100;
}

/** drive a sweep to its end with results arriving in the order `rng` picks among the running trials */
function drive(r: ResolvedSweep, rng: Rng | null): { decisions: SweepDecision[]; trials: TrialReport[] } {
  let trials: TrialReport[] = [];
  const all: SweepDecision[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const ds = decide(r, trials);
    all.push(...ds);
    for (const d of ds) {
      const t = trials.find((x) => x.index === d.index) ?? { index: d.index, state: 'pending', rung: 0, rungMetrics: [] };
      trials = [...trials.filter((x) => x.index !== d.index), applyDecision(t, d)];
    }
    if (sweepFinished(r, trials)) break;
    const running = trials.filter((t) => t.state === 'running').sort((a, b) => a.index - b.index);
    assert.ok(running.length > 0 && running.length <= r.maxConcurrent, `running ${running.length}`);
    const t = running[rng ? Math.floor(rng.random() * running.length) : 0];
    const m = [...t.rungMetrics];
    m[t.rung] = fakeMetric(r, t.index, t.rung);
    trials = trials.map((x) => (x.index === t.index ? { ...x, state: 'paused', rungMetrics: m } : x));
  }
  assert.ok(sweepFinished(r, trials));
  return { decisions: all, trials: trials.sort((a, b) => a.index - b.index) };
}

const outcome = (x: { decisions: SweepDecision[] }) =>
  x.decisions
    .filter((d) => d.type !== 'start')
    .map((d) => JSON.stringify(d))
    .sort();

test('decide: 9-trial ASHA η=3 promotes exactly 3 at rung 0 and 1 at rung 1, the same under 20 arrival orders', () => {
  const r = resolveSweep('finetune', smokeFt(), ashaFields());
  const straight = drive(r, null);
  const promotes = straight.decisions.filter((d) => d.type === 'promote');
  assert.equal(promotes.filter((d) => d.rung === 1).length, 3);
  assert.equal(promotes.filter((d) => d.rung === 2).length, 1);
  assert.deepEqual(
    promotes.map((d) => d.type === 'promote' && d.stopAtStep),
    [5, 5, 5, null],
  );
  assert.equal(straight.decisions.filter((d) => d.type === 'stop').length, 8);
  assert.equal(straight.decisions.filter((d) => d.type === 'complete').length, 1);
  const starts = straight.decisions.filter((d) => d.type === 'start');
  assert.equal(starts.filter((d) => d.type === 'start' && d.resume).length, 4, 'promoted trials resume from their checkpoint');
  assert.equal(starts.filter((d) => d.type === 'start' && !d.resume).length, 9);
  // the synchronous successive-halving answer: top 3 of all 9 at rung 0, then the top 1 of those
  const byRung0 = [...r.trials].sort((a, b) => fakeMetric(r, b.index, 0) - fakeMetric(r, a.index, 0) || a.index - b.index);
  const top3 = byRung0
    .slice(0, 3)
    .map((t) => t.index)
    .sort((a, b) => a - b);
  assert.deepEqual(
    promotes
      .filter((d) => d.rung === 1)
      .map((d) => d.index)
      .sort((a, b) => a - b),
    top3,
  );
  const b = best(r, straight.trials)!;
  assert.equal(b.rung, 2);
  assert.equal(promotes.find((d) => d.rung === 2)!.index, b.index);
  assert.equal(b.metric, fakeMetric(r, b.index, 2));
  const stop = straight.decisions.find((d) => d.type === 'stop')!;
  assert.match((stop as { reason: string }).reason, /^rung 0 \(step 2\): val_top1 [\d.]+ is not in the top 3 of 9$/);
  for (let seed = 1; seed <= 20; seed++) {
    const other = drive(r, new Rng(seed));
    assert.deepEqual(outcome(other), outcome(straight), `arrival order ${seed}`);
    assert.deepEqual(best(r, other.trials), b);
  }
});

test('decide: an early decision before the rung is full; a failed trial counts as the worst; grid completes every trial', () => {
  const r = resolveSweep('finetune', smokeFt(), ashaFields());
  // 8 trials reported at rung 0, trial 8 still running: the 2 best are certain (2 + 1 pending < 3), the
  // 3rd is not, the ones with ≥ 3 better are stopped
  const reports: TrialReport[] = r.trials
    .slice(0, 8)
    .map((t) => ({ index: t.index, state: 'paused', rung: 0, rungMetrics: [t.index / 10] }));
  reports.push({ index: 8, state: 'running', rung: 0, rungMetrics: [] });
  const ds = decide({ ...r, maxConcurrent: 9 }, reports);
  assert.deepEqual(
    ds.filter((d) => d.type === 'promote').map((d) => d.index),
    [6, 7],
  );
  assert.deepEqual(
    ds.filter((d) => d.type === 'stop').map((d) => d.index),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(
    ds.filter((d) => d.type === 'start').map((d) => [d.index, d.type === 'start' && d.resume]),
    [
      [6, true],
      [7, true],
    ],
  );
  // trial 8 fails: it counts as the worst, so trial 5 is in the top 3
  reports[8] = { index: 8, state: 'failed', rung: 0, rungMetrics: [] };
  assert.deepEqual(
    decide({ ...r, maxConcurrent: 9 }, reports)
      .filter((d) => d.type === 'promote')
      .map((d) => d.index),
    [5, 6, 7],
  );
  const g = resolveSweep('finetune', smokeFt(), {
    space: { baseLr: { choice: [1e-3, 1e-2] } },
    algorithm: { name: 'grid' },
    metric: { name: 'eval_top1', goal: 'max' },
    maxTrials: 2,
    maxConcurrent: 2,
  });
  assert.deepEqual(decide(g, []), [
    { type: 'start', index: 0, rung: 0, stopAtStep: null, resume: false },
    { type: 'start', index: 1, rung: 0, stopAtStep: null, resume: false },
  ]);
  assert.deepEqual(
    decide(g, [
      { index: 0, state: 'paused', rung: 0, rungMetrics: [0.5] },
      { index: 1, state: 'running', rung: 0, rungMetrics: [] },
    ]),
    [{ type: 'complete', index: 0, rung: 0 }],
  );
});

test('metricAt: the last finite value at or before the step', () => {
  const rows = [
    { step: 1, loss: 2 },
    { step: 2, loss: 1.5 },
    { step: 2, val_top1: 0.4 },
    { step: 3, loss: Number.NaN },
    { step: 5, val_top1: 0.6 },
  ];
  assert.equal(metricAt(rows, 'loss', 4), 1.5);
  assert.equal(metricAt(rows, 'val_top1', 4), 0.4);
  assert.equal(metricAt(rows, 'val_top1', 5), 0.6);
  assert.equal(metricAt(rows, 'val_top1', 1), null);
});
