/**
 * Fine-tuning, one readable function (the shape of pretrain.ts): build the classifier from a CIM
 * checkpoint or from scratch, load the labelled data, then step on the run scaffold
 * (run-scaffold.ts: resume, stop, metrics, checkpoints and retention) with AdamW (layer-wise lr
 * decay, warmup then cosine) on augmented, mixed batches, scoring top-1 on the held-out split
 * after every epoch.
 *
 * Every random choice of step k (batch order, augmentation, mixing, drop path) comes from seeds
 * derived from (seed, k), so a resumed run repeats exactly what a straight run would have done.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  cimModelConfig,
  cimModelConfigFromMetadata,
  classifierLrScale,
  createClassifier,
  defaultClassifierImgSize,
  deriveSeed,
  learningRate,
  normalizeRgb,
  parseSafetensors,
  ResnetClassifier,
  Rng,
  type AnyCimModelConfig,
  type ImageClassifier,
  type StateGetter,
} from '@cim-forge/cim';
import { readFile } from 'node:fs/promises';
import { sha256, type CheckpointStore } from '../checkpoint-store.ts';
import type { MetricsSink } from '../metrics-sink.ts';
import { NonFiniteLossError } from '../trainer.ts';
import { soloCollective, type Collective } from '../collective.ts';
import { allReduceGradients } from '../gradient-all-reduce.ts';
import { mixupCutmix, randAugmentLite, randomErase, softTargets } from './augment.ts';
import { deriveFinetunePlan, type FinetuneConfig, type FinetunePlan } from '@cim-forge/config';
import { classifierToSafetensors, loadFinetuneCheckpoint, saveFinetuneCheckpoint } from './finetune-checkpoint.ts';
import { LayerwiseAdamW } from './layerwise-adamw.ts';
import { epochPermutationOf, imageAsUnit, loadLabelledImages, plainBatch, stratifiedSubset, type LabelledImages } from './labelled-data.ts';
import {
  passedOn,
  runOutcome,
  runScaffold,
  type ScaffoldHooks,
  type EngineEvent,
  type MetricsRecord,
  type RunSteps,
} from '../run-scaffold.ts';
import { splitValidation } from './validation-split.ts';
import type { RunOutcome } from '../loss-summary.ts';

export interface FinetuneHooks extends ScaffoldHooks {
  onPlan?(info: {
    config: FinetuneConfig;
    plan: FinetunePlan;
    encoder: AnyCimModelConfig;
    resumedFrom?: string;
    startStep: number;
    params: number;
    trainImages: number;
    evalImages: number;
  }): void;
  onStep?(r: { step: number; totalSteps: number; epoch: number; loss: number; lr: number; imagesPerSec: number }): void;
  onEval?(r: { epoch: number; step: number; top1: number; loss: number }): void;
}

export interface FinetuneOptions {
  config: FinetuneConfig;
  store?: CheckpointStore;
  metrics?: MetricsSink;
  resume?: boolean;
  hooks?: FinetuneHooks;
  /** a checkpoint skipped on resume, the one resumed from */
  onEvent?: (e: EngineEvent) => void;
  /** stop after this many optimizer steps in this invocation */
  maxSteps?: number;
  /** with config.valFraction > 0: score the test split at the end (default true; false for recipe-grid runs) */
  scoreTest?: boolean;
  /** already-loaded data (tests; the CLI loads from config.dataset) */
  data?: { train: LabelledImages; eval: LabelledImages };
  /**
   * data parallelism (`cim finetune --ranks N`): this rank trains on its 1/N of every global batch
   * (config.batchSize), the gradients are averaged before each optimizer step; each rank scores
   * its share of the held-out images (evaluateTop1Sharded); rank 0 alone writes checkpoints and metrics
   */
  collective?: Collective;
  /** this rank's own step timings (every rank of a gang) */
  rankMetrics?: MetricsSink;
}

export interface FinetuneResult extends RunOutcome {
  /** held-out top-1 after each epoch finished in this invocation */
  evals: Array<{ epoch: number; step: number; top1: number; loss: number }>;
  /** held-out top-1 of the final weights (the validation split when config.valFraction > 0) */
  top1: number;
  /** with config.valFraction > 0, once the run has finished: top-1 and loss of the final weights on evalDataset (the test split) */
  test?: { top1: number; loss: number; images: number };
  trainImages: number;
  evalImages: number;
}

/** PyTorch-named tensors of a safetensors file, and the encoder config (a CIM ViT's or ResNet's) its metadata describes. */
export async function readEncoderFile(path: string): Promise<{ get: StateGetter; encoder: AnyCimModelConfig | undefined }> {
  const file = parseSafetensors(new Uint8Array(await readFile(path)), path);
  const arch = file.metadata.architecture;
  if (arch !== undefined && arch !== 'cim-vit' && arch !== 'cim-resnet')
    throw new Error(`${path} holds a ${arch} model; fine-tuning and probing take a CIM ViT or ResNet encoder`);
  const get: StateGetter = (name) => {
    const t = file.tensors.get(name) ?? file.tensors.get(`model.${name}`);
    return t ? { shape: t.shape, data: t.data as Float32Array } : undefined;
  };
  let encoder: AnyCimModelConfig | undefined;
  try {
    encoder = cimModelConfigFromMetadata(file.metadata);
  } catch {
    encoder = undefined;
  }
  return { get, encoder };
}

export function encoderConfigOf(c: Pick<FinetuneConfig, 'model' | 'modelOverrides'>, fromFile?: AnyCimModelConfig): AnyCimModelConfig {
  return fromFile ?? cimModelConfig(c.model, c.modelOverrides);
}

/** Soft-target cross-entropy: mean over the batch of −Σ t · log softmax(z). */
export function softCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/** Top-1 and mean cross-entropy on `data` (no augmentation, drop path off). */
export async function evaluateTop1(
  model: ImageClassifier,
  data: LabelledImages,
  limit = 0,
  batchSize = 128,
): Promise<{ top1: number; loss: number }> {
  const n = limit > 0 ? Math.min(limit, data.size) : data.size;
  const { correct, lossSum } = await scoreRange(model, data, 0, n, batchSize);
  return { top1: correct / n, loss: lossSum / n };
}

/**
 * evaluateTop1 split over a gang: rank r of N scores its 1/N of the first `limit` images and one
 * all-reduce sums the counts, so every rank gets the whole set's top-1 and loss in 1/N of the time
 * (the running statistics and weights are the same on every rank). One process: evaluateTop1.
 */
export async function evaluateTop1Sharded(
  model: ImageClassifier,
  data: LabelledImages,
  collective: Collective,
  limit = 0,
): Promise<{ top1: number; loss: number }> {
  const N = collective.worldSize;
  if (N === 1) return evaluateTop1(model, data, limit);
  const n = limit > 0 ? Math.min(limit, data.size) : data.size;
  const part = (r: number) => Math.floor((r * n) / N);
  const mine = await scoreRange(model, data, part(collective.rank), part(collective.rank + 1));
  // counts below 2^24 are exact in float32, and the mean of N of them times N gives them back
  const mean = await collective.allReduceMean(new Float32Array([mine.correct, mine.lossSum]));
  return { top1: Math.round(mean[0] * N) / n, loss: (mean[1] * N) / n };
}

/** correct predictions and the summed cross-entropy over images [from, to) of `data` */
async function scoreRange(
  model: ImageClassifier,
  data: LabelledImages,
  from: number,
  to: number,
  batchSize = 128,
): Promise<{ correct: number; lossSum: number }> {
  const s = data.side;
  let correct = 0;
  let lossSum = 0;
  for (let i = from; i < to; i += batchSize) {
    const idx = Array.from({ length: Math.min(batchSize, to - i) }, (_, k) => i + k);
    const [pred, loss] = tf.tidy(() => {
      const x = tf.tensor4d(plainBatch(data, idx), [idx.length, s, s, 3]);
      const z = model.forward(x);
      const y = tf.oneHot(
        tf.tensor1d(
          idx.map((k) => data.labels[k]),
          'int32',
        ),
        z.shape[1],
      );
      return [tf.argMax(z, 1), tf.sum(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(z)), 1)))];
    });
    const p = await pred.data();
    lossSum += (await loss.data())[0];
    tf.dispose([pred, loss]);
    for (let k = 0; k < idx.length; k++) if (p[k] === data.labels[idx[k]]) correct++;
  }
  return { correct, lossSum };
}

/** The part of every global batch one process trains on: rank r of N takes images [r·B/N, (r+1)·B/N) of it. */
export interface BatchShard {
  rank: number;
  worldSize: number;
}

export const WHOLE_BATCH: BatchShard = { rank: 0, worldSize: 1 };

/** The images per rank of a global batch; throws unless the batch splits evenly. */
export function rankBatchSize(batchSize: number, worldSize: number): number {
  if (batchSize % worldSize !== 0)
    throw new Error(`a batch of ${batchSize} does not split evenly over ${worldSize} ranks: give a batch size divisible by ${worldSize}`);
  return batchSize / worldSize;
}

/**
 * Step k's seed for one random stream (`salt`): one process keeps the seeds it always had, each
 * rank of a gang draws its own (its augmentations, mixing and drop path differ, as in PyTorch DDP).
 */
export function stepSeed(seed: number, step: number, salt: number, shard: BatchShard = WHOLE_BATCH): number {
  return shard.worldSize === 1 ? deriveSeed(seed, step, salt) : deriveSeed(seed, step, salt, shard.rank);
}

/**
 * Step k's training batch: images [B, s, s, 3] (augmented, normalized, mixed) and targets [B, K];
 * with a `shard`, this rank's B/N of them (the same epoch permutation on every rank).
 */
export function trainBatch(
  c: FinetuneConfig,
  data: LabelledImages,
  subset: number[],
  plan: FinetunePlan,
  step: number,
  perm: Int32Array,
  shard: BatchShard = WHOLE_BATCH,
): { x: Float32Array; targets: Float32Array; lam: number } {
  const B = rankBatchSize(c.batchSize, shard.worldSize);
  const s = data.side;
  const per = s * s * 3;
  const first = (step % plan.stepsPerEpoch) * c.batchSize + shard.rank * B;
  const rng = new Rng(stepSeed(c.seed, step, 0xa06, shard));
  const x = new Float32Array(B * per);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const index = subset[perm[first + b]];
    labels[b] = data.labels[index];
    const img = imageAsUnit(data, index);
    if (c.randAugment) randAugmentLite(img, s, c.randAugment, rng);
    const out = x.subarray(b * per, (b + 1) * per);
    normalizeRgb(img, out, 1);
    randomErase(out, s, c.reprob, rng);
  }
  const mix = mixupCutmix(x, B, s, { mixup: c.mixup, cutmix: c.cutmix, prob: c.mixupProb, switchProb: c.mixupSwitchProb }, rng);
  return { x, targets: softTargets(labels, plan.numClasses, c.labelSmoothing, mix.lam), lam: mix.lam };
}

/** What one rank's optimizer step reports: the loss (the mean across ranks), the stop vote and where the time went. */
export interface FinetuneStepResult {
  loss: number;
  /** some rank voted to stop with this step */
  stop: boolean;
  allReduceSeconds: number;
  /** bytes this rank sent into the all-reduce (0 with one rank) */
  allReduceBytes: number;
}

/** The running statistics a training-mode forward updates (a ResNet's BatchNorm), averaged across ranks with the gradients. */
function runningStatNames(model: ImageClassifier): string[] {
  return model instanceof ResnetClassifier ? model.bufferNames() : [];
}

/**
 * One optimizer step on a prepared batch (trainBatch's x and targets): forward in training mode,
 * backward, then AdamW at `lr` unless the loss is not finite (NonFiniteLossError, nothing updated).
 * Returns the loss. `bench:train --only finetune-resnet,finetune-vit` times exactly this.
 */
export async function finetuneStep(
  model: ImageClassifier,
  optimizer: LayerwiseAdamW,
  names: string[],
  batch: { x: Float32Array; targets: Float32Array },
  o: { side: number; numClasses: number; lr: number; dropRng: Rng },
  step = 0,
): Promise<number> {
  return (await finetuneRankStep(model, optimizer, names, batch, o, step)).loss;
}

/**
 * finetuneStep for one rank of a gang: the gradients of this rank's batch, averaged across the
 * ranks (with the BatchNorm running statistics, the loss and the stop vote: gradient-all-reduce.ts)
 * before the optimizer step, so every rank takes the same step and keeps bit-identical weights.
 * BatchNorm normalizes each rank's batch by its own statistics (PyTorch DDP's default, not SyncBatchNorm).
 */
export async function finetuneRankStep(
  model: ImageClassifier,
  optimizer: LayerwiseAdamW,
  names: string[],
  batch: { x: Float32Array; targets: Float32Array },
  o: { side: number; numClasses: number; lr: number; dropRng: Rng },
  step = 0,
  gang: { collective: Collective; stopVote: boolean } = { collective: soloCollective, stopVote: false },
): Promise<FinetuneStepResult> {
  const B = batch.targets.length / o.numClasses;
  const vars = names.map((n) => model.p(n));
  const { value, grads } = tf.variableGrads(() => {
    const x = tf.tensor4d(batch.x, [B, o.side, o.side, 3]);
    const t = tf.tensor2d(batch.targets, [B, o.numClasses]);
    return softCrossEntropy(model.forward(x, o.dropRng), t);
  }, vars);
  let loss = (await value.data())[0];
  value.dispose();
  const byName = new Map(names.map((n) => [n, grads[model.p(n).name]] as [string, tf.Tensor]));
  let r: FinetuneStepResult = { loss, stop: gang.stopVote, allReduceSeconds: 0, allReduceBytes: 0 };
  // a gang checks the mean loss: a non-finite loss on any rank stops every rank with the same error
  if (gang.collective.worldSize > 1)
    r = await allReduceGradients(gang.collective, (n) => model.p(n), names, runningStatNames(model), byName, loss, gang.stopVote);
  loss = r.loss;
  if (!Number.isFinite(loss)) {
    tf.dispose([...byName.values()]);
    throw new NonFiniteLossError(step, loss);
  }
  optimizer.apply(byName, o.lr);
  tf.dispose([...byName.values()]);
  return r;
}

/** AdamW over a classifier's trainable parameters: weight decay per parameter spec, lr scaled by layer decay */
export function classifierOptimizer(
  model: ImageClassifier,
  config: Pick<FinetuneConfig, 'layerDecay' | 'beta1' | 'beta2' | 'weightDecay'>,
): LayerwiseAdamW {
  const specs = new Map(model.specs.map((s) => [s.name, s]));
  return new LayerwiseAdamW(
    model.trainableNames().map((n) => ({
      name: n,
      variable: model.p(n),
      decay: specs.get(n)!.decay,
      lrScale: classifierLrScale(model, n, config.layerDecay),
    })),
    { beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay },
  );
}

export async function finetune(o: FinetuneOptions): Promise<FinetuneResult> {
  const { config } = o;
  const hooks = o.hooks ?? {};
  const log = hooks.log ?? (() => {});
  const collective = o.collective ?? soloCollective;
  const shard: BatchShard = { rank: collective.rank, worldSize: collective.worldSize };
  const gang = shard.worldSize > 1;
  const isRank0 = shard.rank === 0;
  rankBatchSize(config.batchSize, shard.worldSize);

  const init = config.initFrom ? await readEncoderFile(config.initFrom) : undefined;
  const encoder = encoderConfigOf(config, init?.encoder);
  const imgSize = config.imgSize ?? defaultClassifierImgSize(encoder);
  const loaded = o.data ?? {
    train: await loadLabelledImages(config.dataset, imgSize),
    eval: await loadLabelledImages(config.evalDataset, imgSize),
  };
  if (loaded.train.side !== imgSize || loaded.eval.side !== imgSize)
    throw new Error(`data is ${loaded.train.side} px, the model ${imgSize} px`);
  // with a validation split, every epoch scores it and the test split is scored once at the end
  const carved = config.valFraction > 0 ? splitValidation(loaded.train, config.valFraction, 0) : undefined;
  const data = carved ? { train: carved.train, eval: carved.val } : loaded;
  const testData = carved && o.scoreTest !== false ? loaded.eval : undefined;
  const subset = stratifiedSubset(data.train.labels, config.labelsFraction, config.seed);
  const plan = deriveFinetunePlan(config, subset.length, imgSize, data.train.numClasses);

  const model = createClassifier(encoder, { imgSize, numClasses: plan.numClasses, dropPath: config.dropPath }, config.seed);
  if (init) {
    const r = model.loadEncoder(init.get, config.encoder);
    log(`encoder: ${r.loaded} tensors (${config.encoder}) from ${config.initFrom}`);
  }
  const names = model.trainableNames();
  const optimizer = classifierOptimizer(model, config);
  let step = 0;
  const params = names.reduce((a, n) => a + model.p(n).size, 0);
  const evalImages = config.evalImages > 0 ? Math.min(config.evalImages, data.eval.size) : data.eval.size;
  const lrAt = (k: number) =>
    learningRate(k / plan.stepsPerEpoch, {
      peakLr: plan.peakLr,
      minLr: config.minLr,
      warmupEpochs: config.warmupEpochs,
      epochs: config.epochs,
    });
  if (config.warmupEpochs >= config.epochs)
    log(
      `warning: the warm-up (${config.warmupEpochs} epochs) is as long as the run (${config.epochs}): the lr never reaches its peak ` +
        `${plan.peakLr.toExponential(2)} (at most ${lrAt(plan.totalSteps - 1).toExponential(2)}); give --warmup-epochs a fraction of --epochs, or leave it out`,
    );
  const evals: FinetuneResult['evals'] = [];
  let perm: { epoch: number; p: Int32Array } | undefined;
  const s = imgSize;
  const steps: RunSteps = {
    totalSteps: plan.totalSteps,
    step: () => step,
    restore: async (store, id) => (step = (await loadFinetuneCheckpoint(store, id, model, optimizer)).step),
    begin: async (resumedFrom) => {
      hooks.onPlan?.({ config, plan, encoder, resumedFrom, startStep: step, params, trainImages: subset.length, evalImages });
    },
    advance: async (vote) => {
      const s0 = performance.now();
      const epoch = Math.floor(step / plan.stepsPerEpoch);
      if (perm?.epoch !== epoch) perm = { epoch, p: epochPermutationOf(subset.length, config.seed, epoch) };
      // this rank's share of the global batch (all of it in one process)
      const b = trainBatch(config, data.train, subset, plan, step, perm.p, shard);
      const dropRng = new Rng(stepSeed(config.seed, step, 0xd9, shard));
      const lr = lrAt(step);
      const r = await finetuneRankStep(model, optimizer, names, b, { side: s, numClasses: plan.numClasses, lr, dropRng }, step, {
        collective,
        stopVote: vote,
      });
      const { loss } = r;
      step += 1;
      const seconds = (performance.now() - s0) / 1000;
      // the global batch: every rank's images
      const imagesPerSec = config.batchSize / seconds;
      const metrics: MetricsRecord[] = [
        { step, epoch: step / plan.stepsPerEpoch, loss, lr, images_per_sec: imagesPerSec, time: Date.now() / 1000 },
      ];
      const rankMetrics: MetricsRecord | undefined = gang
        ? {
            step,
            rank: shard.rank,
            seconds,
            all_reduce_seconds: r.allReduceSeconds,
            all_reduce_bytes: r.allReduceBytes,
            time: Date.now() / 1000,
          }
        : undefined;
      // held-out top-1 after every epoch, at the end, and at stopAtStep (a sweep's rung is judged there);
      // a gang splits the scoring (each rank its share of the images); rank 0 writes the row
      let row: FinetuneResult['evals'][number] | undefined;
      if (step % plan.stepsPerEpoch === 0 || step === plan.totalSteps || step === config.stopAtStep) {
        const e = await evaluateTop1Sharded(model, data.eval, collective, evalImages);
        row = { epoch: step / plan.stepsPerEpoch, step, top1: e.top1, loss: e.loss };
        evals.push(row);
        // with a validation split the held-out set is it: recorded as val_* too (a sweep's val_top1)
        const val: MetricsRecord = carved ? { val_top1: e.top1, val_loss: e.loss } : {};
        metrics.push({ step, epoch: row.epoch, eval_top1: e.top1, eval_loss: e.loss, ...val, time: Date.now() / 1000 });
      }
      return {
        loss,
        stop: r.stop,
        metrics,
        rankMetrics,
        report: () => {
          hooks.onStep?.({ step, totalSteps: plan.totalSteps, epoch: step / plan.stepsPerEpoch, loss, lr, imagesPerSec });
          if (row) hooks.onEval?.(row);
        },
      };
    },
    save: (store, last) =>
      saveFinetuneCheckpoint(store, model, optimizer, {
        step,
        config,
        plan,
        encoder,
        metrics: { loss: last.loss, top1: evals.at(-1)?.top1 ?? NaN },
        backend: tf.getBackend(),
      }),
  };

  try {
    const run = await runScaffold(steps, {
      ...passedOn(o, hooks),
      collective,
      rankMetrics: o.rankMetrics,
      stopAtStep: config.stopAtStep,
      checkpointEvery: config.checkpointEvery,
      // the newest K only
      retention: { keepLatest: config.keepCheckpoints, keepBest: 0, metric: 'top1', better: 'higher' },
      log,
    });
    // every rank of a gang takes its share of the scoring (the same calls in the same order)
    const last = evals.at(-1)?.step === step ? evals.at(-1)! : await evaluateTop1Sharded(model, data.eval, collective, evalImages);
    // the test split is scored once, when the run has finished (not when stopped to resume later)
    const test =
      testData && step === plan.totalSteps
        ? { ...(await evaluateTop1Sharded(model, testData, collective)), images: testData.size }
        : undefined;
    if (test && isRank0) log(`test: top-1 ${(100 * test.top1).toFixed(2)}% on ${test.images} images`);
    // the gang leaves together
    if (gang) await collective.barrier();
    return {
      ...runOutcome(run, { finalStep: step, totalSteps: plan.totalSteps, imagesPerStep: config.batchSize }),
      evals,
      top1: last.top1,
      ...(test ? { test } : {}),
      trainImages: subset.length,
      evalImages,
      weightsDigest: sha256(await classifierToSafetensors(model, encoder)),
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
