import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cimModelFromConfig } from '@cim-forge/cim';
import { pretrain, evalSourceSpec, evaluateOn } from './pretrain.ts';
import { modelConfigOf } from '@cim-forge/config';
import { tinyConfig } from './testing.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

// A seeded pre-training run on a tiny config (32-d ViT/4, 2 blocks; 400 steps of 16 synthetic
// images, about 2 minutes on one core). Calibrated on 2026-11-26: held-out loss ~15 → ~2.7,
// mismatched-exemplar gap 0.13, IoU 0.145 → 0.243 (see docs/benchmarks.md, "Learning").
test('CIM learns: loss falls, maps beat the untrained model, and depend on the exemplar', async () => {
  const steps = 400;
  const config = tinyConfig({
    batchSize: 16,
    baseLr: 0.05,
    dataset: { kind: 'synthetic', size: 512, imageSize: 48, seed: 3 },
    epochs: (steps * 16) / 512,
    warmupEpochs: 0.25,
    evalImages: 96,
    workers: 1,
    seed: 0,
  });
  const heldOut = evalSourceSpec(config.dataset, config.evalImages);
  const untrained = cimModelFromConfig(modelConfigOf(config), config.seed);
  const before = await evaluateOn(untrained, config, heldOut);
  untrained.dispose();

  const r = await pretrain({ config });
  assert.equal(r.steps, steps);
  const after = r.eval!;
  const report = JSON.stringify({ before, after, earlyLoss: r.earlyLoss, lateLoss: r.lateLoss });

  // the training loss falls by a clear margin (first 10% of steps vs last 10%)
  assert.ok(r.lateLoss! < 0.6 * r.earlyLoss!, report);
  // held-out loss: far below the untrained model's, and below the exemplar-blind plateau (~2.83)
  assert.ok(after.loss < 0.3 * before.loss, report);
  assert.ok(after.loss < 2.8, report);
  // predicted maps overlap the true ones much better than the untrained model's
  assert.ok(after.meanIoU > before.meanIoU + 0.06 && after.meanIoU > 1.4 * before.meanIoU, report);
  // the maps depend on the exemplar: other images' exemplars give a clearly worse loss
  assert.ok(after.mismatchedLoss - after.loss > 0.05, report);
});
