/**
 * How well predicted correlation maps match the true ones on held-out images: mean IoU of the
 * thresholded map (p > 0.5) with the true map, per exemplar, and the same for the trivial
 * "everything" prediction as a floor. The model runs in inference mode (a ResNet's BatchNorm on its
 * running statistics, which stay untouched).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CimBatch, CimModel } from '@cim-forge/cim';
import { batchTensors, disposeBatch } from './batch-tensors.ts';
import { centrePriorIoU, type CentrePrior } from './centre-prior.ts';

export interface IoUReport {
  meanIoU: number;
  /** IoU of predicting the whole context (= mean true area fraction) */
  allOnesIoU: number;
  /**
   * IoU of the best exemplar-blind prediction, the centre prior (centre-prior.ts: the training set's
   * mean true map at the exemplar's scale); NaN when no prior was given. A model that localizes beats it clearly.
   */
  priorIoU: number;
  /**
   * the model's IoU with its maps thresholded where that is best on the prior's training maps
   * (`tunedThreshold`), as the prior chooses its own threshold there: the fair comparison with
   * `priorIoU`. `meanIoU` thresholds at 0.5, which a map of a small or uncertain region never
   * reaches. NaN when no training maps were given.
   */
  tunedIoU: number;
  tunedThreshold: number;
  loss: number;
  /**
   * the loss when every image is paired with another image's exemplars (the maps unchanged):
   * a model that correlates does worse here; one that only learned where exemplars usually are
   * does not. `mismatchedLoss − loss` is what the exemplars tell the model.
   */
  mismatchedLoss: number;
  exemplars: number;
}

/** The batch with image b's exemplars replaced by image (b + 1) mod B's; contexts and maps kept. */
export function mismatchExemplars(b: CimBatch): CimBatch {
  const B = b.batchSize;
  const per = b.exemplarSize * b.exemplarSize * 3;
  const ex = new Float32Array(b.exemplars.length);
  for (let t = 0; t < b.numExemplars; t++) {
    for (let i = 0; i < B; i++) {
      const from = (t * B + ((i + 1) % B)) * per;
      ex.set(b.exemplars.subarray(from, from + per), (t * B + i) * per);
    }
  }
  return { ...b, exemplars: ex };
}

export function iou(pred: ArrayLike<number>, truth: ArrayLike<number>, offset: number, n: number, threshold = 0.5): number {
  let inter = 0;
  let union = 0;
  for (let i = offset; i < offset + n; i++) {
    const p = pred[i] > threshold;
    const t = truth[i] > 0.5;
    if (p && t) inter++;
    if (p || t) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** One forward pass: probability maps p(exemplar here) [T·B, C, C] and the batch's loss. */
async function forwardMaps(model: CimModel, b: CimBatch): Promise<{ probs: Float32Array; loss: number }> {
  const bt = batchTensors(b);
  const wasTraining = model.training;
  model.training = false;
  let probsT: tf.Tensor;
  let lossT: tf.Tensor;
  try {
    [probsT, lossT] = tf.tidy(() => {
      const f = model.forward(bt.context, bt.templates, bt.masks);
      const [l0, l1] = tf.split(f.logits, 2, 3);
      return [tf.sigmoid(tf.sub(l1, l0)), f.loss];
    });
  } finally {
    model.training = wasTraining;
    disposeBatch(bt);
  }
  const out = { probs: (await probsT.data()) as Float32Array, loss: (await lossT.data())[0] };
  tf.dispose([probsT, lossT]);
  return out;
}

/** Probability maps p(exemplar here) [T·B, C, C] for a batch. */
export async function predictMaps(model: CimModel, b: CimBatch): Promise<Float32Array> {
  return (await forwardMaps(model, b)).probs;
}

/** the same thresholds the centre prior chooses from (0.05 … 0.95) */
export const MAP_THRESHOLDS = Array.from({ length: 19 }, (_, i) => 0.05 * (i + 1));

/** The threshold of the model's maps with the best mean IoU on `batches` (ties: the lowest). */
export async function bestMapThreshold(model: CimModel, batches: CimBatch[]): Promise<number> {
  const score = MAP_THRESHOLDS.map(() => 0);
  for (const b of batches) {
    const probs = await predictMaps(model, b);
    const px = b.contextSize * b.contextSize;
    for (let k = 0; k < b.numExemplars * b.batchSize; k++)
      MAP_THRESHOLDS.forEach((t, j) => (score[j] += iou(probs, b.masks, k * px, px, t)));
  }
  return MAP_THRESHOLDS[score.indexOf(Math.max(...score))];
}

/**
 * `prior` and `priorBatches` (the training maps it was fitted on): the prior's IoU and the model's
 * at its threshold tuned on those maps beside the one at 0.5.
 */
export async function evaluateIoU(
  model: CimModel,
  batches: CimBatch[],
  prior?: CentrePrior,
  priorBatches?: CimBatch[],
): Promise<IoUReport> {
  const tunedThreshold = priorBatches?.length ? await bestMapThreshold(model, priorBatches) : NaN;
  let tuned = 0;
  let sum = 0;
  let ones = 0;
  let lossSum = 0;
  let mismatchedSum = 0;
  let n = 0;
  for (const b of batches) {
    const { probs, loss } = await forwardMaps(model, b);
    lossSum += loss * b.batchSize;
    if (b.batchSize > 1) mismatchedSum += (await forwardMaps(model, mismatchExemplars(b))).loss * b.batchSize;
    const px = b.contextSize * b.contextSize;
    for (let k = 0; k < b.numExemplars * b.batchSize; k++) {
      sum += iou(probs, b.masks, k * px, px);
      if (!Number.isNaN(tunedThreshold)) tuned += iou(probs, b.masks, k * px, px, tunedThreshold);
      let area = 0;
      for (let i = k * px; i < (k + 1) * px; i++) area += b.masks[i];
      ones += area / px;
      n++;
    }
  }
  const images = batches.reduce((a, b) => a + b.batchSize, 0);
  return {
    meanIoU: sum / n,
    allOnesIoU: ones / n,
    priorIoU: prior ? centrePriorIoU(prior, batches) : NaN,
    tunedIoU: Number.isNaN(tunedThreshold) ? NaN : tuned / n,
    tunedThreshold,
    loss: lossSum / images,
    mismatchedLoss: mismatchedSum / images,
    exemplars: n,
  };
}
