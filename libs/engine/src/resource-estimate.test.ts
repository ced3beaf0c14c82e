/**
 * The API's resource model (libs/config resource-estimate.ts) against what tfjs really holds: the
 * peak of tf.memory's bytes during one real optimizer step (tf.profile's peakBytes, weights,
 * gradients and activations included) on three real configs, and the real parameter count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { cimModelFromConfig, initBackend } from '@cim-forge/cim';
import { estimatePretrain, resolvePretrainConfig, type PretrainConfig, deriveTrainPlan, modelConfigOf } from '@cim-forge/config';
import { CimTrainer } from './trainer.ts';
import { syntheticBatches } from './testing.ts';

await initBackend('wasm');

async function measure(c: PretrainConfig): Promise<{ peakBytes: number; parameters: number }> {
  const model = cimModelFromConfig(modelConfigOf(c), 0);
  const trainer = new CimTrainer(model, c, deriveTrainPlan(c, 64 * c.batchSize));
  const [warm, step] = syntheticBatches(c, 2);
  await trainer.trainStep([warm]);
  const tensorsBefore = tf.memory().numTensors;
  const prof = await tf.profile(async () => {
    await trainer.trainStep([step]);
  });
  assert.equal(tf.memory().numTensors, tensorsBefore, 'a step leaks no tensors');
  const parameters = model.specs.filter((s) => s.trainable).reduce((a, s) => a + model.p(s.name).size, 0);
  trainer.dispose();
  model.dispose();
  return { peakBytes: prof.peakBytes, parameters };
}

const configs: Array<[string, PretrainConfig]> = [
  ['micro ViT/4 (smoke), batch 8', resolvePretrainConfig('smoke', { batchSize: 8, workers: 0 })],
  ['Tiny ViT/4, batch 4', resolvePretrainConfig('smoke', { model: 'cimVitTinyPatch4', batchSize: 4, workers: 0 })],
  [
    'micro ResNet (cpu-resnet) with doubled widths, batch 8',
    resolvePretrainConfig('cpu-resnet', {
      batchSize: 8,
      workers: 0,
      modelOverrides: { backbone: { widths: [32, 64, 128, 256], stemWidth: 32 } },
    }),
  ],
];

for (const [name, config] of configs) {
  test(`the estimate of ${name} is within ±30% of the measured peak, its parameter count within 2%`, async () => {
    const m = await measure(config);
    const e = estimatePretrain(config);
    const ratio = e.peakTensorBytes / m.peakBytes;
    console.log(
      JSON.stringify({
        config: name,
        measuredPeakMiB: +(m.peakBytes / 2 ** 20).toFixed(1),
        estimatedPeakMiB: +(e.peakTensorBytes / 2 ** 20).toFixed(1),
        ratio: +ratio.toFixed(3),
        parameters: m.parameters,
        estimatedParameters: e.parameters,
        gflopsPerStep: +(e.flopsPerStep / 1e9).toFixed(2),
      }),
    );
    assert.ok(ratio > 0.7 && ratio < 1.3, `estimate ${e.peakTensorBytes} vs measured ${m.peakBytes} (×${ratio.toFixed(2)})`);
    assert.ok(Math.abs(e.parameters / m.parameters - 1) < 0.02, `parameters ${e.parameters} vs ${m.parameters}`);
    assert.ok(e.peakBytesPerRank > e.peakTensorBytes && e.flopsPerStep > 0);
  });
}
