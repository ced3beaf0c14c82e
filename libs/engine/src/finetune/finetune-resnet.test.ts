import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CimResNet, cimResnetMicro, resnetMicro, ResnetClassifier, serializeSafetensors, cimModelMetadata } from '@cim-forge/cim';
import { initTestBackend } from '@cim-forge/cim/testing';
import { writeFile } from 'node:fs/promises';
import { LocalCheckpointStore } from '../checkpoint-store.ts';
import { loadImageClassifierFile } from '../robustness/load-classifier.ts';
import { evaluateTop1, finetune } from './finetune.ts';
import { resolveFinetuneConfig } from '@cim-forge/config';
import { linearProbe, defaultProbeConfig } from './linear-probe.ts';
import { loadLabelledImages } from './labelled-data.ts';

await initTestBackend();

// 16-px Fashion-MNIST keeps the ResNet cheap: 400 training images (40 of them carved out as validation), 300 test images
const train = await loadLabelledImages({ kind: 'fashion-mnist', split: 'train', limit: 400 }, 16);
const testSplit = await loadLabelledImages({ kind: 'fashion-mnist', split: 'test', limit: 300 }, 16);
const narrow = { backbone: { widths: [8, 8, 16, 16], stemWidth: 8 } };

test('ResNet fine-tune from scratch with a validation split: scores validation per epoch, test once; the saved classifier reproduces it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ft-resnet-'));
  const config = resolveFinetuneConfig({
    model: 'cimResnetMicro',
    modelOverrides: narrow,
    imgSize: 16,
    valFraction: 0.1,
    epochs: 5,
    warmupEpochs: 0.5,
    batchSize: 20,
    baseLr: 0.05,
    layerDecay: 0.9,
    dropPath: 0,
    mixup: 0,
    cutmix: 0,
    reprob: 0,
    randAugment: null,
    labelSmoothing: 0,
  });
  const counts: number[] = [];
  const r = await finetune({
    config,
    data: { train, eval: testSplit },
    store: new LocalCheckpointStore(dir),
    hooks: { onStep: () => counts.push(tf.memory().numTensors) },
  });
  assert.equal(r.trainImages, 360);
  assert.equal(r.evalImages, 40, 'per-epoch scoring on the validation split');
  assert.equal(r.steps, 5 * 18);
  assert.equal(r.evals.length, 5);
  assert.equal(r.test?.images, 300);
  assert.ok(r.test!.top1 > 0.4, `test top-1 ${r.test!.top1} (chance 0.1)`);
  assert.equal(Math.min(...counts), Math.max(...counts), 'numTensors flat across steps');
  const model = await loadImageClassifierFile(join(dir, r.lastCheckpoint!, 'model.safetensors'));
  assert.ok(model instanceof ResnetClassifier);
  const again = await evaluateTop1(model, testSplit);
  assert.equal(again.top1, r.test!.top1, 'the checkpoint (weights and running statistics) scores the same');
  model.dispose();
});

test('probe and k-NN on a CIM ResNet checkpoint: online and target encoders give different features; statistics reported', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'probe-resnet-'));
  const cim = new CimResNet(cimResnetMicro({ backbone: resnetMicro(narrow.backbone) }), 5);
  tf.tidy(() => {
    for (const [name, v] of cim.params) if (name.startsWith('encoder_c.') && name.endsWith('.weight')) v.assign(tf.mul(v, 0.5));
  });
  const file = join(dir, 'model.safetensors');
  await writeFile(file, serializeSafetensors(await cim.stateDict(), { format: 'pt', ...cimModelMetadata(cim.config) }));
  cim.dispose();
  const run = (encoder: 'online' | 'target') =>
    linearProbe({
      config: { ...defaultProbeConfig, initFrom: file, encoder, imgSize: 16, epochs: 5, knnK: 20 },
      data: { train, eval: testSplit },
    });
  const online = await run('online');
  const target = await run('target');
  assert.equal(online.featureDim, 16);
  for (const r of [online, target]) {
    assert.ok(r.knnTop1! > 0.3 && r.knnTop1! <= 1, `k-NN top-1 ${r.knnTop1}`);
    assert.ok(r.features.effectiveRank >= 1 && r.features.effectiveRank <= 16, `effective rank ${r.features.effectiveRank}`);
    assert.equal(r.features.images, 400);
  }
  assert.notEqual(online.features.meanStd, target.features.meanStd);
});
