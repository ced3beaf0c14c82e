// The resource model's arithmetic (no tfjs); its agreement with measured peaks is checked in
// libs/engine/src/resource-estimate.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultEvalConfig, resolveFinetuneConfig, resolvePretrainConfig } from './index.ts';
import { estimatePretrain, estimateRunResources, RUNTIME_BYTES } from './resource-estimate.ts';

const GiB = 2 ** 30;

test('memory grows linearly with the batch; the runtime allowance is added once', () => {
  const a = estimatePretrain(resolvePretrainConfig('smoke', { batchSize: 8 }));
  const b = estimatePretrain(resolvePretrainConfig('smoke', { batchSize: 16 }));
  assert.equal(a.parameters, b.parameters);
  assert.ok(Math.abs(b.activationBytes / a.activationBytes - 2) < 1e-9);
  assert.equal(a.peakBytesPerRank - a.peakTensorBytes, RUNTIME_BYTES);
  assert.ok(Math.abs(b.flopsPerStep / a.flopsPerStep - 2) < 1e-9);
});

test('the paper preset fits an 80 GiB worker as 64 × 8 accumulation; 256 per rank would not', () => {
  const preset = estimatePretrain(resolvePretrainConfig('official-vit-base'));
  const authors = estimatePretrain(resolvePretrainConfig('official-vit-base', { batchSize: 256, accumIter: 2 }));
  assert.ok(preset.peakBytesPerRank < 80 * GiB, `${preset.peakBytesPerRank / GiB} GiB`);
  assert.ok(authors.peakBytesPerRank > 80 * GiB);
  // ViT-B/16 + the 512-d decoder: about 89M learnable parameters
  assert.ok(preset.parameters > 85e6 && preset.parameters < 95e6, String(preset.parameters));
});

test('a fine-tune is estimated with the model its source run trained', () => {
  const ft = resolveFinetuneConfig({ batchSize: 32 });
  const own = estimateRunResources('finetune', ft).resources;
  const fromTiny = estimateRunResources('finetune', ft, {
    kind: 'pretrain',
    config: resolvePretrainConfig('smoke', { model: 'cimVitTinyPatch4' }),
  }).resources;
  assert.ok(own.parameters < 300_000 && fromTiny.parameters > 5_000_000, `${own.parameters} ${fromTiny.parameters}`);
  // a ResNet source (no classifier yet) or a config that no longer parses: the config's own model
  assert.equal(
    estimateRunResources('finetune', ft, { kind: 'pretrain', config: resolvePretrainConfig('cpu-resnet') }).resources.parameters,
    own.parameters,
  );
  assert.equal(estimateRunResources('finetune', ft, { kind: 'pretrain', config: { batchSize: 'x' } }).resources.parameters, own.parameters);
});

test('eval: attack steps cost FLOPs, not memory', () => {
  const clean = estimateRunResources('eval', { ...defaultEvalConfig, eps: 0 }).resources;
  const pgd = estimateRunResources('eval', { ...defaultEvalConfig, pgdSteps: 50 }).resources;
  assert.equal(clean.peakBytesPerRank, pgd.peakBytesPerRank);
  assert.ok(pgd.flopsPerStep > 100 * clean.flopsPerStep);
});
