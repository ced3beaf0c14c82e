/**
 * Held-out IoU beside the centre prior compares like with like (issue 26, docs/localization.md):
 * the prior picks its threshold on the training maps, so the model's maps get theirs there too.
 * A model whose maps put every true pixel at p = 0.3 and the rest at 0.1 localizes perfectly but
 * scores 0 at p > 0.5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type CimBatch, type CimModel } from '@cim-forge/cim';
import { testBackendChoice } from '@cim-forge/cim/testing';
import { bestMapThreshold, evaluateIoU } from './evaluate.ts';
import { fitCentrePrior } from './centre-prior.ts';

const C = 8;
const logit = (p: number) => Math.log(p / (1 - p));

/** B images, one exemplar each, the true map a 3×3 box at a different place per image */
function batch(B: number, shift: number): CimBatch {
  const masks = new Uint8Array(B * C * C);
  for (let i = 0; i < B; i++) {
    const x0 = (i + shift) % 6;
    const y0 = (2 * i + shift) % 6;
    for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) masks[i * C * C + y * C + x] = 1;
  }
  return {
    batchSize: B,
    numExemplars: 1,
    contextSize: C,
    exemplarSize: 2,
    context: new Float32Array(B * C * C * 3),
    exemplars: new Float32Array(B * 12),
    masks,
  };
}

/** maps p = `on` on the true pixels, `off` elsewhere: it localizes exactly, with low confidence */
function shyModel(on: number, off: number): CimModel {
  return {
    training: false,
    forward: (_c: tf.Tensor4D, _t: tf.Tensor4D, masks: tf.Tensor3D) =>
      tf.tidy(() => {
        const d = tf.add(tf.mul(masks, logit(on) - logit(off)), logit(off));
        const logits = tf.stack([tf.zerosLike(d), d], 3) as tf.Tensor4D;
        return { logits, loss: tf.scalar(0) };
      }),
  } as unknown as CimModel;
}

test('the model’s IoU at the threshold tuned on the training maps beside the one at 0.5; the prior’s is tuned the same way', async () => {
  await initBackend(testBackendChoice());
  const train = [batch(8, 0)];
  const held = [batch(8, 3)];
  const model = shyModel(0.3, 0.08);
  // the lowest threshold between 0.08 and 0.3 wins (0.1) on the training maps
  assert.ok(Math.abs((await bestMapThreshold(model, train)) - 0.1) < 1e-9);
  const r = await evaluateIoU(model, held, fitCentrePrior(train, 1), train);
  assert.equal(r.meanIoU, 0); // nothing is above 0.5
  assert.equal(r.tunedIoU, 1);
  assert.ok(Math.abs(r.tunedThreshold - 0.1) < 1e-9);
  // the blind prior, tuned on the same maps, cannot place 3×3 boxes that move: well below the model
  assert.ok(r.priorIoU < 0.5, `${r.priorIoU}`);
  // no training maps: no tuned IoU
  const plain = await evaluateIoU(model, held);
  assert.ok(Number.isNaN(plain.tunedIoU) && Number.isNaN(plain.tunedThreshold) && Number.isNaN(plain.priorIoU));
});
