import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveRunPlan, finetuneTrainImages, parseRunConfig, type FinetuneConfig } from '@cim-forge/config';
import { stratifiedSubset } from './labelled-data.ts';
import { splitValidation, validationIndices } from './validation-split.ts';

test('validation split: stratified (round(f·count) per class), disjoint, seeded, original order kept', () => {
  // 3 classes with 10, 20, 30 images, interleaved
  const labels: number[] = [];
  for (let i = 0; i < 60; i++) labels.push(i < 30 ? i % 3 : 2 - (i % 2));
  const counts = [0, 0, 0];
  for (const l of labels) counts[l]++;
  const { train, val } = validationIndices(labels, 0.1, 0);
  const valCounts = [0, 0, 0];
  for (const i of val) valCounts[labels[i]]++;
  assert.deepEqual(
    valCounts,
    counts.map((c) => Math.max(1, Math.round(0.1 * c))),
  );
  assert.equal(train.length + val.length, 60);
  assert.equal(new Set([...train, ...val]).size, 60);
  assert.deepEqual(
    val,
    [...val].sort((a, b) => a - b),
  );
  assert.deepEqual(validationIndices(labels, 0.1, 0), { train, val }, 'same seed, same split');
  assert.notDeepEqual(validationIndices(labels, 0.1, 1).val, val, 'another seed, another split');
  assert.throws(() => validationIndices(labels, 1, 0), /\(0, 1\)/);

  const side = 2;
  const pixels = Uint8Array.from({ length: 60 * side * side * 3 }, (_, k) => Math.floor(k / (side * side * 3)));
  const parts = splitValidation({ name: 'toy', size: 60, side, numClasses: 3, pixels, labels: Int32Array.from(labels) }, 0.1, 0);
  assert.equal(parts.val.size, val.length);
  assert.equal(parts.train.size, train.length);
  // image k of the validation part is the original image val[k] (its pixels hold its index)
  assert.equal(parts.val.pixels[0], val[0]);
  assert.equal(parts.val.pixels[(val.length - 1) * 12], val.at(-1));
  assert.equal(parts.val.labels[1], labels[val[1]]);
});

test("the API's fine-tuning plan counts the images the engine trains on (validation carved, then the labelled fraction)", () => {
  // Fashion-MNIST's train split: 10 classes × 6,000, interleaved as in the real file
  const labels = Int32Array.from({ length: 60_000 }, (_, i) => (i * 7) % 10);
  const dataset = { kind: 'fashion-mnist' as const, split: 'train' as const };
  const cases: [number, number][] = [
    [0, 1],
    [0, 0.01],
    [0.1, 1],
    [0.1, 0.013],
    [0.2, 0.05],
    [0.0001, 0.5],
  ];
  for (const [valFraction, labelsFraction] of cases) {
    const train = valFraction > 0 ? validationIndices(labels, valFraction, 0).train : [...labels.keys()];
    const engine = stratifiedSubset(
      Int32Array.from(train, (i) => labels[i]),
      labelsFraction,
      3,
    ).length;
    assert.equal(finetuneTrainImages(dataset, valFraction, labelsFraction), engine, `val ${valFraction}, labels ${labelsFraction}`);
  }
  // through deriveRunPlan, as POST /v1/runs and the sweep planner use it: 0.2 validation, 5% labels, batch 128
  const config = parseRunConfig('finetune', {
    dataset,
    valFraction: 0.2,
    labelsFraction: 0.05,
    batchSize: 128,
    epochs: 2,
  }) as FinetuneConfig;
  const plan = deriveRunPlan('finetune', config, 1);
  assert.equal(plan.trainImages, 2_400);
  assert.equal(plan.stepsPerEpoch, 18);
  assert.equal(plan.totalSteps, 36);
  // a limit hides the classes: counted as one class, within a few images of the engine
  assert.equal(finetuneTrainImages({ ...dataset, limit: 1_000 }, 0.1, 0.5), 450);
});
