import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { finetune } from '../finetune/finetune.ts';
import { resolveFinetuneConfig } from '@cim-forge/config';
import { loadLabelledImages } from '../finetune/labelled-data.ts';
import { evaluateRobustness, formatRobustnessTable } from './evaluate-robustness.ts';
import type { VitClassifier } from '@cim-forge/cim';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCheckpointStore } from '../checkpoint-store.ts';
import { loadClassifierFile } from './load-classifier.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

const side = 16;
const train = await loadLabelledImages({ kind: 'fashion-mnist', split: 'train', limit: 256 }, side);
const heldOut = await loadLabelledImages({ kind: 'fashion-mnist', split: 'test', limit: 64 }, side);

test('a tiny fine-tuned VitClassifier end to end: numbers in [0, 1], clean ≥ FGSM ≥ PGD, mCE, numTensors flat', async () => {
  // a few epochs so that clean accuracy is well above chance and the attacks have something to break
  const config = resolveFinetuneConfig({
    model: 'cimVitMicroPatch4',
    modelOverrides: { embedDim: 32, depth: 1, numHeads: 2 },
    imgSize: side,
    epochs: 4,
    warmupEpochs: 1,
    batchSize: 16,
    baseLr: 0.16,
    layerDecay: 1,
    dropPath: 0,
    mixup: 0,
    cutmix: 0,
    reprob: 0,
    randAugment: null,
    labelSmoothing: 0,
  });
  const dir = await mkdtemp(join(tmpdir(), 'robust-'));
  const store = new LocalCheckpointStore(dir);
  const r = await finetune({ config, data: { train, eval: heldOut }, store });
  assert.ok(r.top1 > 0.3, `fine-tuned top-1 ${r.top1}`);
  const model: VitClassifier = await loadClassifierFile(join(dir, r.lastCheckpoint!, 'model.safetensors'));
  assert.equal(model.config.numClasses, 10);
  const before = tf.memory().numTensors;
  const report = await evaluateRobustness({
    forward: (x) => model.forward(x as tf.Tensor4D),
    images: heldOut.pixels,
    labels: heldOut.labels,
    side,
    eps: 4 / 255,
    pgdSteps: 5,
    corruptions: ['gaussian_noise', 'contrast', 'jpeg'],
    severities: [1, 3, 5],
    batchSize: 32,
    seed: 1,
  });
  assert.equal(tf.memory().numTensors, before, 'numTensors flat across the evaluation');
  console.log(formatRobustnessTable(report));
  const all = [
    report.clean.top1,
    report.fgsm!.top1,
    report.pgd!.top1,
    ...Object.values(report.corruptions).flatMap((s) => Object.values(s)),
    report.mCE!,
  ];
  assert.ok(
    all.every((v) => v >= 0 && v <= 1),
    `numbers in [0, 1]: ${all}`,
  );
  assert.ok(report.clean.top1 >= report.pgd!.top1 && report.clean.top1 >= report.fgsm!.top1);
  assert.ok(report.pgd!.top1 <= report.fgsm!.top1 + 1 / 64, `PGD ${report.pgd!.top1} vs FGSM ${report.fgsm!.top1}`);
  assert.ok(report.pgd!.top1 < report.clean.top1, 'PGD at 4/255 breaks some predictions');
  assert.equal(report.mceNormalization, 'unnormalized');
  assert.ok(report.corruptions.contrast['5'] <= report.corruptions.contrast['1'] + 0.05);
  assert.ok(Math.abs(report.settings.pgdAlpha - (2.5 * 4) / 255 / 5) < 1e-12);
  // the same evaluation with another batch size gives the same numbers (noise seeded per image)
  const again = await evaluateRobustness({
    forward: (x) => model.forward(x as tf.Tensor4D),
    images: heldOut.pixels,
    labels: heldOut.labels,
    side,
    eps: 4 / 255,
    pgdSteps: 0,
    corruptions: ['gaussian_noise'],
    severities: [3],
    batchSize: 20,
    seed: 1,
    baseline: { gaussian_noise: { 3: 0.9 } },
  });
  assert.equal(again.corruptions.gaussian_noise['3'], report.corruptions.gaussian_noise['3']);
  assert.equal(again.clean.top1, report.clean.top1);
  assert.equal(again.fgsm!.top1, report.fgsm!.top1);
  assert.equal(again.pgd, null);
  assert.equal(again.mceNormalization, 'baseline');
  assert.ok(Math.abs(again.mCE! - (1 - again.corruptions.gaussian_noise['3']) / 0.9) < 1e-12);
  model.dispose();
});
