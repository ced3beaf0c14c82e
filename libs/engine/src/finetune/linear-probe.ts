/**
 * Linear probe: the encoder frozen, a linear classifier on its features, top-1 on the held-out split.
 *
 * Features (our choice, documented): the mean of the patch tokens of the encoder's output as CIM
 * pre-trains it (blocks then `norm`), standardized per dimension with the training set's mean and
 * variance. That is MAE's linear-probe head `BatchNorm1d(affine=False)` with its statistics fixed
 * at the population's (the features never change, so the batch statistics would only add noise),
 * followed by a `Linear`; mean-pooling follows the fine-tuning head instead of MAE's cls token.
 * Features are computed once; the classifier then trains in milliseconds per epoch with AdamW
 * (no weight decay by default, as MAE's LARS probe has none), lr warmup-free cosine to 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  classifierFeatureDim,
  classifierFeatures,
  createClassifier,
  defaultClassifierImgSize,
  deriveSeed,
  learningRate,
  linear,
  newVariable,
  Rng,
  type CimModelName,
  type CimModelOverrides,
  type ImageClassifier,
} from '@cim-forge/cim';
import type { SourceSpec } from '@cim-forge/data';
import { encoderConfigOf, readEncoderFile } from './finetune.ts';
import { defaultFinetuneConfig } from '@cim-forge/config';
import { featureStatistics, type FeatureStatistics } from './feature-statistics.ts';
import { defaultKnn, knnTop1 } from './knn.ts';
import { loadLabelledImages, plainBatch, stratifiedSubset, type LabelledImages } from './labelled-data.ts';

export interface ProbeConfig {
  /** safetensors with PyTorch names; null = a randomly initialised encoder (the baseline) */
  initFrom: string | null;
  encoder: 'online' | 'target';
  model: CimModelName;
  modelOverrides: CimModelOverrides;
  imgSize: number | null;
  dataset: SourceSpec;
  evalDataset: SourceSpec;
  labelsFraction: number;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  /** > 0: also k-NN top-1 (cosine, DINO's exp(s/0.07) votes; knn.ts) on the raw frozen features with this k (the protocol: 20) */
  knnK: number;
}

export const defaultProbeConfig: ProbeConfig = {
  initFrom: null,
  encoder: 'online',
  model: defaultFinetuneConfig.model,
  modelOverrides: {},
  imgSize: null,
  dataset: defaultFinetuneConfig.dataset,
  evalDataset: defaultFinetuneConfig.evalDataset,
  labelsFraction: 1,
  epochs: 30,
  batchSize: 256,
  lr: 1e-2,
  weightDecay: 0,
  seed: 0,
  knnK: 0,
};

export interface ProbeResult {
  trainTop1: number;
  top1: number;
  trainImages: number;
  evalImages: number;
  featureDim: number;
  featureSeconds: number;
  seconds: number;
  /** k-NN top-1 on the held-out split (config.knnK > 0) */
  knnTop1?: number;
  /** statistics of the training features before standardization (feature-statistics.ts; perDimStd left out) */
  features: Omit<FeatureStatistics, 'perDimStd' | 'singularValues'> & { topSingularValues: number[] };
}

export interface ProbeOptions {
  config: ProbeConfig;
  data?: { train: LabelledImages; eval: LabelledImages };
  log?(msg: string): void;
  onEpoch?(r: { epoch: number; loss: number }): void;
}

/** Frozen encoder features [n, D] (classifierFeatures: a ViT's mean patch token, a ResNet's pool) for `indices` of `data`. */
export async function encoderFeatures(
  model: ImageClassifier,
  data: LabelledImages,
  indices: number[],
  batchSize = 128,
): Promise<Float32Array> {
  const D = classifierFeatureDim(model);
  const s = data.side;
  const out = new Float32Array(indices.length * D);
  for (let i = 0; i < indices.length; i += batchSize) {
    const idx = indices.slice(i, i + batchSize);
    const f = tf.tidy(() => classifierFeatures(model, tf.tensor4d(plainBatch(data, idx), [idx.length, s, s, 3])));
    out.set((await f.data()) as Float32Array, i * D);
    f.dispose();
  }
  return out;
}

/** Standardize columns of [n, D] in place with (mean, var) of `ref` (default: itself). */
export function standardize(
  x: Float32Array,
  D: number,
  stats?: { mean: Float64Array; std: Float64Array },
): { mean: Float64Array; std: Float64Array } {
  const n = x.length / D;
  let st = stats;
  if (!st) {
    const mean = new Float64Array(D);
    const sq = new Float64Array(D);
    for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d] += x[i * D + d] / n;
    for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) sq[d] += (x[i * D + d] - mean[d]) ** 2 / n;
    st = { mean, std: sq.map((v) => Math.sqrt(v + 1e-6)) };
  }
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) x[i * D + d] = (x[i * D + d] - st.mean[d]) / st.std[d];
  return st;
}

export async function linearProbe(o: ProbeOptions): Promise<ProbeResult> {
  const c = o.config;
  const log = o.log ?? (() => {});
  const init = c.initFrom ? await readEncoderFile(c.initFrom) : undefined;
  const enc = encoderConfigOf({ model: c.model, modelOverrides: c.modelOverrides }, init?.encoder);
  const imgSize = c.imgSize ?? defaultClassifierImgSize(enc);
  const data = o.data ?? { train: await loadLabelledImages(c.dataset, imgSize), eval: await loadLabelledImages(c.evalDataset, imgSize) };
  const K = data.train.numClasses;
  const model = createClassifier(enc, { imgSize, numClasses: K }, c.seed);
  const D = classifierFeatureDim(model);
  const t0 = performance.now();
  let trainX: Float32Array;
  let evalX: Float32Array;
  const subset = stratifiedSubset(data.train.labels, c.labelsFraction, c.seed);
  const evalIdx = Array.from({ length: data.eval.size }, (_, i) => i);
  try {
    if (init) log(`encoder: ${model.loadEncoder(init.get, c.encoder).loaded} tensors (${c.encoder}) from ${c.initFrom}`);
    trainX = await encoderFeatures(model, data.train, subset);
    evalX = await encoderFeatures(model, data.eval, evalIdx);
  } finally {
    model.dispose();
  }
  const featureSeconds = (performance.now() - t0) / 1000;
  const trainY = Int32Array.from(subset, (i) => data.train.labels[i]);
  const { perDimStd: _std, singularValues, ...fstats } = featureStatistics(trainX, D);
  const features = { ...fstats, topSingularValues: [...singularValues.slice(0, 8)] };
  log(
    `features: effective rank ${features.effectiveRank.toFixed(2)} of ${D}, mean per-dim std ` +
      `${features.meanStd.toExponential(3)}, shared offset ${features.meanOffset.toExponential(3)}${features.collapsed ? ' — COLLAPSED' : ''}`,
  );
  const knnTop1Value =
    c.knnK > 0
      ? await knnTop1(trainX, trainY, evalX, data.eval.labels, D, { k: c.knnK, temperature: defaultKnn.temperature, numClasses: K })
      : undefined;
  if (knnTop1Value !== undefined) log(`k-NN (k = ${c.knnK}, cosine): top-1 ${(100 * knnTop1Value).toFixed(2)}%`);
  const stats = standardize(trainX, D);
  standardize(evalX, D, stats);
  const evalY = data.eval.labels;

  const w = newVariable(tf.zeros([D, K]), true);
  const b = newVariable(tf.zeros([K]), true);
  const opt = new AdamW(
    [
      { name: 'weight', variable: w, decay: true },
      { name: 'bias', variable: b, decay: false },
    ],
    { beta1: 0.9, beta2: 0.999, weightDecay: c.weightDecay },
  );
  const n = subset.length;
  const B = Math.min(c.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / B);
  const xAll = tf.tensor2d(trainX, [n, D]);
  const yAll = tf.tensor1d(trainY, 'int32');
  try {
    for (let epoch = 0; epoch < c.epochs; epoch++) {
      const perm = new Rng(deriveSeed(c.seed, epoch, 0x9b0)).shuffle(Array.from({ length: n }, (_, i) => i)) as number[];
      let lossSum = 0;
      for (let j = 0; j < stepsPerEpoch; j++) {
        const idx = perm.slice(j * B, (j + 1) * B);
        const lr = learningRate(epoch + j / stepsPerEpoch, { peakLr: c.lr, minLr: 0, warmupEpochs: 0, epochs: c.epochs });
        const { value, grads } = tf.variableGrads(() => {
          const ii = tf.tensor1d(idx, 'int32');
          const z = linear(tf.gather(xAll, ii), w, b);
          return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.gather(yAll, ii), K), z) as tf.Scalar;
        }, [w, b]);
        lossSum += (await value.data())[0] * idx.length;
        opt.apply(
          new Map([
            ['weight', grads[w.name]],
            ['bias', grads[b.name]],
          ]),
          lr,
        );
        tf.dispose([value, ...Object.values(grads)]);
      }
      o.onEpoch?.({ epoch: epoch + 1, loss: lossSum / n });
    }
    const top1Of = async (x: Float32Array, y: ArrayLike<number>) => {
      const p = tf.tidy(() => tf.argMax(linear(tf.tensor2d(x, [y.length, D]), w, b), 1));
      const pd = await p.data();
      p.dispose();
      let ok = 0;
      for (let i = 0; i < y.length; i++) if (pd[i] === y[i]) ok++;
      return ok / y.length;
    };
    return {
      trainTop1: await top1Of(trainX, trainY),
      top1: await top1Of(evalX, evalY),
      trainImages: n,
      evalImages: evalY.length,
      featureDim: D,
      featureSeconds,
      seconds: (performance.now() - t0) / 1000,
      ...(knnTop1Value !== undefined ? { knnTop1: knnTop1Value } : {}),
      features,
    };
  } finally {
    tf.dispose([xAll, yAll, w, b]);
    opt.dispose();
  }
}
