import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ARMS,
  bestGridPoint,
  gridFractionFor,
  gridId,
  planProtocol,
  protocolBudgets,
  protocolFinetuneConfig,
  protocolProbeConfig,
} from './plan.ts';
import { estimateJobSeconds, estimateProtocol, readThroughputs } from './throughput.ts';
import { THROUGHPUTS } from './main.ts';

const script = fileURLToPath(new URL('../main.ts', import.meta.url));
const b = protocolBudgets.protocol;
const count = (jobs: Array<{ kind: string }>, k: string) => jobs.filter((j) => j.kind === k).length;

test("issue 15's uncut plan: 3 arms × 3 fractions × 4 grid points, then per seed 9 fine-tunes, 3 probes, 3 robustness runs", () => {
  const jobs = planProtocol(protocolBudgets['protocol-issue15'], [0, 1, 2]);
  assert.deepEqual(
    ['pretrain', 'pt-curve', 'grid', 'ft', 'probe', 'robust'].map((k) => count(jobs, k)),
    [1, 1, 36, 27, 9, 9],
  );
});

test('the sized plan: the grid only on 10% of the labels (12 points); dependencies come first', () => {
  const jobs = planProtocol(b, [0, 1, 2]);
  assert.deepEqual(
    ['pretrain', 'pt-curve', 'grid', 'ft', 'probe', 'robust'].map((k) => count(jobs, k)),
    [1, 1, 12, 27, 9, 9],
  );
  assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
  const pos = new Map(jobs.map((j, i) => [j.id, i]));
  const last = (k: string) => Math.max(...jobs.filter((j) => j.kind === k).map((j) => pos.get(j.id)!));
  const first = (k: string) => Math.min(...jobs.filter((j) => j.kind === k).map((j) => pos.get(j.id)!));
  assert.ok(last('grid') < first('ft'));
  // seed 0 finishes (fine-tunes, probes, robustness) before seed 1 starts: the ledger can stop between them
  assert.ok(pos.get('robust-cim-target-s0')! < pos.get('ft-scratch-f1-s1')!);
  assert.ok(pos.get('ft-cim-target-f10-s2')! < pos.get('robust-scratch-s2')!);
  // 1% and 100% reuse the pilot's choice on 10%
  assert.deepEqual(
    [0.01, 0.1, 1].map((f) => gridFractionFor(b, f)),
    [0.1, 0.1, 0.1],
  );
  assert.deepEqual(
    [0.01, 0.1, 1].map((f) => gridFractionFor(protocolBudgets['protocol-issue15'], f)),
    [0.01, 0.1, 1],
  );
});

test('every arm gets the same recipe and budget; fine-tunes score the validation split, the test split only at the end', () => {
  const configs = ARMS.map((arm) =>
    protocolFinetuneConfig(b, { arm, fraction: 0.1, seed: 1, baseLr: 8e-3, layerDecay: 0.75, initFrom: '/x/model.safetensors' }),
  );
  const strip = (c: (typeof configs)[number]) => ({ ...c, initFrom: null, encoder: 'online' });
  assert.deepEqual(strip(configs[1]), strip(configs[0]));
  assert.deepEqual(strip(configs[2]), strip(configs[0]));
  assert.deepEqual(
    configs.map((c) => [c.initFrom, c.encoder]),
    [
      [null, 'online'],
      ['/x/model.safetensors', 'online'],
      ['/x/model.safetensors', 'target'],
    ],
  );
  for (const c of configs) {
    assert.deepEqual([c.valFraction, c.evalImages, c.model, c.epochs], [0.1, 2000, 'cimResnetMicro', 15]);
    assert.deepEqual(c.evalDataset, { kind: 'fashion-mnist', split: 'test' });
    assert.deepEqual(c.dataset, { kind: 'fashion-mnist', split: 'train' });
  }
  const grid = protocolFinetuneConfig(b, {
    arm: 'scratch',
    fraction: 0.1,
    seed: 0,
    baseLr: 2e-3,
    layerDecay: 1,
    initFrom: null,
    grid: true,
  });
  assert.equal(grid.epochs, 7.5);
  assert.equal(
    protocolFinetuneConfig(b, { arm: 'scratch', fraction: 0.01, seed: 0, baseLr: 2e-3, layerDecay: 1, initFrom: null }).epochs,
    40,
  );
  const probe = protocolProbeConfig(b, 'cim-target', 2, '/x/model.safetensors');
  assert.deepEqual([probe.knnK, probe.encoder, probe.seed, probe.model], [20, 'target', 2, 'cimResnetMicro']);
  assert.equal(protocolProbeConfig(b, 'scratch', 0, '/x/model.safetensors').initFrom, null);
});

test('the best grid point is the highest validation top-1 (ties: the first); other fractions reuse the pilot fraction', () => {
  const figures = new Map<string, Record<string, unknown>>();
  const vals = [0.8, 0.85, 0.85, 0.7];
  let k = 0;
  for (const lr of b.lrGrid) for (const ld of b.layerDecayGrid) figures.set(gridId('cim-online', 0.1, lr, ld), { valTop1: vals[k++] });
  const choice = { baseLr: 2e-3, layerDecay: 0.75, valTop1: 0.85, fraction: 0.1 };
  assert.deepEqual(bestGridPoint(b, 'cim-online', 0.1, figures), choice);
  assert.deepEqual(bestGridPoint(b, 'cim-online', 1, figures), choice);
  assert.throws(() => bestGridPoint(b, 'scratch', 0.1, figures), /has no result/);
});

test('the estimate, job by job, from the committed throughput table', async () => {
  const tp = { finetune: 1000, pretrain: 150, features: 3000 };
  // a final 10% fine-tune: 5,400 images × 15 epochs, 15 validation passes of 2,000, the 10k test split once
  const ft = estimateJobSeconds(b, { id: 'x', kind: 'ft', arm: 'scratch', fraction: 0.1, seed: 0 }, tp);
  assert.ok(Math.abs(ft - ((5400 * 15) / 1000 + (15 * 2000 + 10000) / 3000)) < 1e-9, `${ft}`);
  // a grid point: half the epochs (7.5 → 8 validation passes), no test split
  const grid = estimateJobSeconds(b, { id: 'x', kind: 'grid', arm: 'scratch', fraction: 0.1, baseLr: 2e-3, layerDecay: 1 }, tp);
  assert.ok(Math.abs(grid - ((5400 * 7.5) / 1000 + (8 * 2000) / 3000)) < 1e-9, `${grid}`);
  assert.equal(estimateJobSeconds(b, { id: 'pretrain', kind: 'pretrain' }, tp), (60000 * 8) / 150);

  // the budget: seed 0 ≤ 2.5 h and seeds 1–2 ≤ 2.5 h more at the throughputs the conv work targets
  const target = await readThroughputs(THROUGHPUTS, 'conv-target');
  const e = estimateProtocol(b, planProtocol(b, [0, 1, 2]), target.tp);
  assert.ok(e.seed0Total <= 2.5 * 3600 && e.seed0Total > 1 * 3600, `seed 0: ${(e.seed0Total / 3600).toFixed(2)} h`);
  assert.ok(e.otherSeedsTotal <= 2.5 * 3600 && e.otherSeedsTotal > 0.5 * 3600, `seeds 1–2: ${(e.otherSeedsTotal / 3600).toFixed(2)} h`);
  assert.deepEqual(Object.keys(e.otherSeeds).sort(), ['ft', 'probe', 'robust']);
  // issue 15's uncut protocol at its loaded throughput: the 33 h it was sized at, give or take the validation passes now counted
  const loaded = await readThroughputs(THROUGHPUTS, 'issue15-loaded');
  const u = estimateProtocol(protocolBudgets['protocol-issue15'], planProtocol(protocolBudgets['protocol-issue15'], [0, 1, 2]), loaded.tp);
  const hours = (u.seed0Total + u.otherSeedsTotal) / 3600;
  assert.ok(hours > 33 && hours < 45, `${hours.toFixed(1)} h`);
  await assert.rejects(readThroughputs(THROUGHPUTS, 'nope'), /has no throughput profile "nope"/);
});

test('--dry-run prints the plan and the estimate for seed 0 and the other seeds; an unknown budget is a usage error', async () => {
  const ledger = await mkdtemp(join(tmpdir(), 'protocol-ledger-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--budget', 'protocol', '--dry-run', '--ledger', ledger], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim());
  assert.equal(j.jobs.length, 2 + 12 + 27 + 9 + 9);
  assert.equal(j.throughputs, 'conv-target');
  assert.ok(j.estimateSeconds.seed0 <= 2.5 * 3600 && j.estimateSeconds.otherSeeds <= 2.5 * 3600, JSON.stringify(j.estimateSeconds));
  assert.equal(j.estimateSeconds.left, j.estimateSeconds.seed0 + j.estimateSeconds.otherSeeds);
  assert.match(r.stderr, /seed 0 \(pre-training.*\): \d+\.\d\d h/);
  assert.match(r.stderr, /seeds 1, 2: \d/);
  const m = spawnSync(
    process.execPath,
    ['--import', 'tsx', script, '--budget', 'protocol', '--dry-run', '--throughputs', 'measured-2026-12'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(m.status, 0, m.stderr);
  assert.ok(JSON.parse(m.stdout.trim()).estimateSeconds.seed0 > j.estimateSeconds.seed0 * 2);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', script, '--budget', 'huge', '--dry-run'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--budget must be protocol, protocol-tiny or protocol-issue15/);
});
