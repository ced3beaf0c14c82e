import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  ARMS,
  bestGridPoint,
  estimateProtocolSeconds,
  FT_IMAGES_PER_SEC,
  gridId,
  planProtocol,
  protocolBudgets,
  protocolFinetuneConfig,
  protocolProbeConfig,
} from './paper-protocol.ts';

const script = fileURLToPath(new URL('./paper-mini.ts', import.meta.url));
const b = protocolBudgets.protocol;

test('the protocol plan: 1 pre-training + curve, 3 arms × 3 fractions × 4 grid points, then per seed 9 fine-tunes, 3 probes, 3 robustness runs', () => {
  const jobs = planProtocol(b, [0, 1, 2]);
  const count = (k: string) => jobs.filter((j) => j.kind === k).length;
  assert.deepEqual(
    [count('pretrain'), count('pt-curve'), count('grid'), count('ft'), count('probe'), count('robust')],
    [1, 1, 36, 27, 9, 9],
  );
  assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
  // dependencies come first: every fine-tune after all grid points, every robustness run after the fine-tunes
  const pos = new Map(jobs.map((j, i) => [j.id, i]));
  assert.ok(
    Math.max(...jobs.filter((j) => j.kind === 'grid').map((j) => pos.get(j.id)!)) <
      Math.min(...jobs.filter((j) => j.kind === 'ft').map((j) => pos.get(j.id)!)),
  );
  assert.ok(pos.get('ft-cim-target-f10-s2')! < pos.get('robust-scratch-s0')!);
});

test('every arm gets the same recipe and budget; grid points and fine-tunes score the validation split, the test split only at the end', () => {
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
    assert.equal(c.valFraction, 0.1);
    assert.equal(c.model, 'cimResnetMicro');
    assert.equal(c.epochs, 20);
    assert.deepEqual(c.evalDataset, { kind: 'fashion-mnist', split: 'test' });
    assert.deepEqual(c.dataset, { kind: 'fashion-mnist', split: 'train' });
  }
  assert.equal(
    protocolFinetuneConfig(b, { arm: 'scratch', fraction: 1, seed: 0, baseLr: 2e-3, layerDecay: 1, initFrom: null, grid: true }).epochs,
    2.5,
  );
  assert.equal(
    protocolFinetuneConfig(b, { arm: 'scratch', fraction: 0.01, seed: 0, baseLr: 2e-3, layerDecay: 1, initFrom: null }).epochs,
    60,
  );
  const probe = protocolProbeConfig(b, 'cim-target', 2, '/x/model.safetensors');
  assert.deepEqual([probe.knnK, probe.encoder, probe.seed, probe.model], [20, 'target', 2, 'cimResnetMicro']);
  assert.equal(protocolProbeConfig(b, 'scratch', 0, '/x/model.safetensors').initFrom, null);
});

test('the best grid point is the highest validation top-1 (ties: the first)', () => {
  const results = new Map<string, { id: string; seconds: number; valTop1: number }>();
  const vals = [0.8, 0.85, 0.85, 0.7];
  let k = 0;
  for (const lr of b.lrGrid)
    for (const ld of b.layerDecayGrid) results.set(gridId('cim-online', 0.1, lr, ld), { id: '', seconds: 0, valTop1: vals[k++] });
  assert.deepEqual(bestGridPoint(b, 'cim-online', 0.1, results), { baseLr: 2e-3, layerDecay: 0.75, valTop1: 0.85 });
  assert.throws(() => bestGridPoint(b, 'scratch', 0.1, results), /has no result/);
});

test('wall-time estimates follow the measured throughput: fine-tuning 3 arms × 3 seeds × (540·60 + 5400·20 + 54000·5) images', () => {
  const e = estimateProtocolSeconds(b, 3);
  const images = 9 * (540 * 60 + 5400 * 20 + 54000 * 5);
  assert.ok(Math.abs(e.finetune - (images / FT_IMAGES_PER_SEC + (27 * 10000) / 300)) < 1e-6);
  assert.ok(Math.abs(e.grid - (3 * 4 * (540 * 60 + 5400 * 20 + 54000 * 5) * 0.5) / FT_IMAGES_PER_SEC) < 1e-6);
  const total = Object.values(e).reduce((a, v) => a + v, 0) / 3600;
  assert.ok(total > 25 && total < 40, `${total.toFixed(1)} h`);
});

test('--budget protocol --dry-run lists the jobs and the estimate; an unknown budget is a usage error', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--budget', 'protocol', '--seeds', '0', '--dry-run'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim());
  assert.equal(j.jobs.length, 2 + 36 + 9 + 3 + 3);
  assert.match(r.stderr, /total\s+\d+\.\d h/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', script, '--budget', 'huge', '--dry-run'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--budget must be full, quick or tiny/);
});
