import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CimBatch } from '@cim-forge/cim';
import { centrePriorIoU, fitCentrePrior } from './centre-prior.ts';
import { evaluateOn } from './pretrain.ts';
import { resolvePretrainConfig } from '@cim-forge/config';
import { createCimModel, initBackend } from '@cim-forge/cim';
import { testBackendChoice } from '@cim-forge/cim/testing';

const C = 8;

/** A batch of one exemplar per image whose true maps are the given boxes [x0, y0, x1, y1) on a C×C context. */
function batchOf(boxes: Array<[number, number, number, number]>): CimBatch {
  const masks = new Uint8Array(boxes.length * C * C);
  boxes.forEach(([x0, y0, x1, y1], k) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) masks[k * C * C + y * C + x] = 1;
  });
  return {
    batchSize: boxes.length,
    numExemplars: 1,
    contextSize: C,
    exemplarSize: 2,
    context: new Float32Array(boxes.length * C * C * 3),
    exemplars: new Float32Array(boxes.length * 2 * 2 * 3),
    masks,
  };
}

const centre: [number, number, number, number] = [3, 3, 5, 5]; // 4 px
const corner: [number, number, number, number] = [0, 0, 2, 8]; // 16 px along the left edge, a different scale
const left: [number, number, number, number] = [0, 0, 4, 8]; // 32 px, the left half
const right: [number, number, number, number] = [4, 0, 8, 8]; // 32 px, the right half

test('the centre prior: one map per exemplar scale; its IoU is 1 where every map of a scale is the same', () => {
  // small maps always in the centre, large ones always in the corner: binned by area, the prior predicts each exactly
  const prior = fitCentrePrior([batchOf([centre, corner, centre, corner, centre, corner])]);
  assert.equal(centrePriorIoU(prior, [batchOf([corner, centre, centre])]), 1);
  // pooled over scales (one bin), the best it can do is the union of both boxes for every map: IoU 4/16 and 16/16 (the
  // threshold 0.5 of the mean map takes both boxes, which do not overlap)
  const pooled = fitCentrePrior([batchOf([centre, corner, centre, corner])], 1);
  assert.ok(Math.abs(centrePriorIoU(pooled, [batchOf([centre, corner])]) - (4 / 20 + 16 / 20) / 2) < 1e-9);
});

test('the centre prior knows where maps of a scale usually are, not which one: half the maps left, half right → IoU 0.5', () => {
  // the mean map is 0.5 everywhere; predicting all of it gives 32/64 = 0.5 for each map, predicting nothing 0
  const prior = fitCentrePrior([batchOf([left, right, left, right])]);
  const v = centrePriorIoU(prior, [batchOf([right, left, left])]);
  assert.ok(Math.abs(v - 0.5) < 1e-9, `${v}`);
});

test('evaluateOn reports the prior beside the model: an untrained model on synthetic data does not beat it', async () => {
  await initBackend(testBackendChoice());
  const config = resolvePretrainConfig('cpu-resnet', { dataset: { kind: 'synthetic', size: 32, imageSize: 48, seed: 3 } });
  const model = createCimModel(config.model, config.modelOverrides, 0);
  try {
    const r = await evaluateOn(model, config, { kind: 'synthetic', size: 16, imageSize: 48, seed: 9 }, 8);
    // the sampler's exemplars cover 5–48% of the view: the prior predicts a centred blob per scale and beats "everything"
    assert.ok(r.priorIoU > r.allOnesIoU + 0.05 && r.priorIoU < 0.8, JSON.stringify(r));
    assert.ok(r.meanIoU < r.priorIoU, JSON.stringify(r));
  } finally {
    model.dispose();
  }
});
