/**
 * bench:train's classifier modes: fine-tuning steps (the ResNet and the ViT classifier, batch 128,
 * with and without augmentation), feature extraction as probe and k-NN run it (eval mode, forward
 * only), and robustness evaluation (a clean eval pass, one PGD step). Each is the code the
 * commands run (finetune.ts' trainBatch + finetuneStep, classifierFeatures, evaluateTop1's
 * forward, robustness' pgd), on synthetic labelled images, timed step by step.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  cimModelConfig,
  classifierFeatures,
  createClassifier,
  defaultClassifierImgSize,
  deriveSeed,
  Rng,
  type CimModelName,
} from '@cim-forge/cim';
import { deriveFinetunePlan, resolveFinetuneConfig } from '@cim-forge/config';
import { classifierOptimizer, epochPermutationOf, finetuneStep, pgd, trainBatch, type LabelledImages } from '@cim-forge/engine';

export const CLASSIFIER_PRESETS = {
  'finetune-resnet': 'cimResnetMicro',
  'finetune-vit': 'cimVitMicroPatch4',
  'features-resnet': 'cimResnetMicro',
  'features-vit': 'cimVitMicroPatch4',
  'robustness-resnet': 'cimResnetMicro',
  'robustness-vit': 'cimVitMicroPatch4',
} as const satisfies Record<string, CimModelName>;
export type ClassifierPreset = keyof typeof CLASSIFIER_PRESETS;

export interface ClassifierBenchOptions {
  steps: number;
  warmup: number;
  /** default 128 */
  batchSize?: number;
  /** `step` lines to keep, e.g. ['no-aug'] */
  modes?: string[];
  /** called before each timed step (the kernel comparison alternates settings through it) */
  variants?: Array<{ name: string; set: () => void }>;
  line: (o: { preset: string; model: string; mode: string; batch: number; perStep: number[]; extra?: Record<string, unknown> }) => void;
}

/** Random 8-bit images with labels, the shape of loadLabelledImages' result. */
export function syntheticLabelled(size: number, side: number, numClasses: number, seed = 0): LabelledImages {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(size * side * side * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(rng.random() * 256);
  const labels = Int32Array.from({ length: size }, (_, i) => i % numClasses);
  return { name: 'synthetic', size, side, numClasses, pixels, labels };
}

/** Time `f` warmup + steps times, once per variant in turn; per-step seconds by variant. */
async function timeSteps(o: ClassifierBenchOptions, f: (i: number) => Promise<void>): Promise<Map<string, number[]>> {
  const variants = o.variants ?? [{ name: '', set: () => {} }];
  const out = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let i = 0; i < o.warmup * variants.length; i++) {
    variants[i % variants.length].set();
    await f(i);
  }
  for (let i = 0; i < o.steps * variants.length; i++) {
    const v = variants[i % variants.length];
    v.set();
    const t0 = performance.now();
    await f(i);
    out.get(v.name)!.push((performance.now() - t0) / 1000);
  }
  variants[0].set();
  return out;
}

export async function benchClassifier(preset: ClassifierPreset, o: ClassifierBenchOptions): Promise<void> {
  const modelName = CLASSIFIER_PRESETS[preset];
  const B = o.batchSize ?? 128;
  const K = 10;
  const encoder = cimModelConfig(modelName);
  // the fine-tuning recipe of `cim finetune`, at the bench's batch
  const aug = resolveFinetuneConfig({ model: modelName, batchSize: B, seed: 0 });
  const noAug = resolveFinetuneConfig({
    model: modelName,
    batchSize: B,
    seed: 0,
    dropPath: 0,
    mixup: 0,
    cutmix: 0,
    reprob: 0,
    randAugment: null,
  });
  const newModel = (dropPath: number) => createClassifier(encoder, { numClasses: K, dropPath }, 0);
  const side = defaultClassifierImgSize(encoder);
  const data = syntheticLabelled(4 * B, side, K);
  const subset = Array.from({ length: data.size }, (_, i) => i);
  const report = (mode: string, times: Map<string, number[]>, extra: Record<string, unknown> = {}) => {
    for (const [variant, perStep] of times)
      o.line({ preset, model: modelName, mode, batch: B, perStep, extra: { imgSize: side, ...extra, ...(variant ? { variant } : {}) } });
  };

  if (preset.startsWith('finetune')) {
    for (const [mode, config] of [
      ['no-aug', noAug],
      ['aug', aug],
    ] as const) {
      if (o.modes && !o.modes.includes(mode)) continue;
      const model = newModel(config.dropPath);
      const names = model.trainableNames();
      const optimizer = classifierOptimizer(model, config);
      const plan = deriveFinetunePlan(config, subset.length, side, K);
      const perm = epochPermutationOf(subset.length, 0, 0);
      const prep: number[] = [];
      const times = await timeSteps(o, async (i) => {
        const t0 = performance.now();
        const b = trainBatch(config, data, subset, plan, i % plan.stepsPerEpoch, perm);
        prep.push((performance.now() - t0) / 1000);
        await finetuneStep(model, optimizer, names, b, { side, numClasses: K, lr: 1e-4, dropRng: new Rng(deriveSeed(0, i, 0xd9)) }, i);
      });
      const sorted = prep.slice(-o.steps).sort((a, b) => a - b);
      report(mode, times, { dataPrepSecondsPerStep: +sorted[sorted.length >> 1].toFixed(4) });
      optimizer.dispose();
      model.dispose();
    }
  } else {
    const model = newModel(0);
    const x = tf.tidy(() => tf.randomUniform([B, side, side, 3], 0, 1, 'float32', 1) as tf.Tensor4D);
    const labels = tf.tensor1d(
      Array.from({ length: B }, (_, i) => i % K),
      'int32',
    );
    if (preset.startsWith('features')) {
      report(
        'features',
        await timeSteps(o, async () => {
          const f = classifierFeatures(model, x);
          await f.data();
          f.dispose();
        }),
      );
    } else {
      // evaluate-robustness: the model sees normalized pixels; the clean pass is evaluateTop1's forward
      report(
        'eval-clean',
        await timeSteps(o, async () => {
          const z = tf.tidy(() => tf.argMax(model.forward(x), 1));
          await z.data();
          z.dispose();
        }),
      );
      report(
        'pgd-step',
        await timeSteps(o, async () => {
          const adv = pgd((t) => model.forward(t as tf.Tensor4D), x, labels, {
            eps: 2 / 255,
            alpha: 2 / 255,
            steps: 1,
            normalization: null,
          });
          await adv.data();
          adv.dispose();
        }),
      );
    }
    tf.dispose([x, labels]);
    model.dispose();
  }
}
