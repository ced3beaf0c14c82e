/**
 * One validated fine-tuning config (the recipe's "Fine-tuning" section as defaults), and the plan
 * derived from it once the data's size is known.
 */
import { cimModelNames, isCimModelName, type CimModelName, type CimModelOverrides } from '@cim-forge/cim/config';
import type { SourceSpec } from '@cim-forge/data';
import type { RandAugmentConfig } from './rand-augment-config.ts';
import { heldOutSplits } from './dataset-root.ts';
export type { RandAugmentConfig } from './rand-augment-config.ts';

export interface FinetuneConfig {
  /** the encoder's shape when starting from scratch (a checkpoint's metadata wins otherwise): a ViT or a ResNet */
  model: CimModelName;
  modelOverrides: CimModelOverrides;
  /** a safetensors file with PyTorch names (a CIM checkpoint's model.safetensors, or an official one); null = scratch */
  initFrom: string | null;
  /** which CIM encoder to start from */
  encoder: 'online' | 'target';
  /** fine-tuning resolution; null = the encoder's imgSize */
  imgSize: number | null;
  dataset: SourceSpec;
  /** the held-out split for top-1 every epoch */
  evalDataset: SourceSpec;
  /** fine-tune on a stratified fraction of the training labels (deterministic by seed) */
  labelsFraction: number;
  epochs: number;
  warmupEpochs: number;
  batchSize: number;
  /** peak lr = baseLr × batch / 256 */
  baseLr: number;
  minLr: number;
  layerDecay: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  dropPath: number;
  labelSmoothing: number;
  /** mixup α, cutmix α (0 = off), probability of mixing a batch, of cutmix over mixup */
  mixup: number;
  cutmix: number;
  mixupProb: number;
  mixupSwitchProb: number;
  /** random erasing probability */
  reprob: number;
  /** null = off */
  randAugment: RandAugmentConfig | null;
  seed: number;
  /** optimizer steps between checkpoints (0 = at the end only) */
  checkpointEvery: number;
  keepCheckpoints: number;
  /** held-out images scored each epoch (0 = all of evalDataset) */
  evalImages: number;
  /**
   * > 0: carve a stratified validation split of this fraction from `dataset` (split seed 0, the same
   * for every run), train on the rest, score it every epoch, and score `evalDataset` (the test
   * split) once at the end. 0: score `evalDataset` every epoch (no validation split).
   */
  valFraction: number;
}

/** The recipe (ViT-B: 100 epochs, base lr 1.2e-3, decay 0.8, …); epochs and batch sized for a CPU. */
export const defaultFinetuneConfig: FinetuneConfig = {
  model: 'cimVitMicroPatch4',
  modelOverrides: {},
  initFrom: null,
  encoder: 'online',
  imgSize: null,
  dataset: { kind: 'fashion-mnist', split: 'train' },
  evalDataset: { kind: 'fashion-mnist', split: 'test' },
  labelsFraction: 1,
  epochs: 100,
  warmupEpochs: 5,
  batchSize: 64,
  baseLr: 1.2e-3,
  minLr: 1e-6,
  layerDecay: 0.8,
  weightDecay: 0.05,
  beta1: 0.9,
  beta2: 0.999,
  dropPath: 0.1,
  labelSmoothing: 0.1,
  mixup: 0.8,
  cutmix: 1.0,
  mixupProb: 1,
  mixupSwitchProb: 0.5,
  reprob: 0.25,
  randAugment: { n: 2, m: 9, mstd: 0.5 },
  seed: 0,
  checkpointEvery: 0,
  keepCheckpoints: 2,
  evalImages: 0,
  valFraction: 0,
};

/** The share of a run the default warm-up takes: the recipe's 5 of 100 epochs. */
export const RECIPE_WARMUP_FRACTION = 0.05;

/**
 * An image folder given as `dataset` alone (no `evalDataset`, no `split`) trains on its train part
 * and scores on its held-out part (train/ and val/ folders, else a seeded stratified split).
 */
export function resolveFinetuneConfig(o: Partial<FinetuneConfig> = {}): FinetuneConfig {
  const splits =
    o.dataset && o.evalDataset === undefined && o.dataset.kind === 'image-folder' && o.dataset.split === undefined
      ? heldOutSplits(o.dataset)
      : undefined;
  const c = { ...defaultFinetuneConfig, ...o, ...splits };
  // the recipe warms up 5 of its 100 epochs: a run left at the default warms up the same share of its
  // own length, so a 5-epoch run reaches its peak lr after a quarter epoch instead of never (issue 26)
  if (o.warmupEpochs === undefined) c.warmupEpochs = Math.min(defaultFinetuneConfig.warmupEpochs, RECIPE_WARMUP_FRACTION * c.epochs);
  const pos = (k: keyof FinetuneConfig, int = false) => {
    const v = c[k] as number;
    if (!(Number.isFinite(v) && v > 0) || (int && !Number.isInteger(v)))
      throw new Error(`finetune config: ${k} must be a positive ${int ? 'integer' : 'number'}, got ${v}`);
  };
  const nonNeg = (k: keyof FinetuneConfig) => {
    const v = c[k] as number;
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`finetune config: ${k} must be >= 0, got ${v}`);
  };
  pos('batchSize', true);
  pos('epochs');
  for (const k of [
    'warmupEpochs',
    'baseLr',
    'minLr',
    'weightDecay',
    'dropPath',
    'labelSmoothing',
    'mixup',
    'cutmix',
    'checkpointEvery',
    'evalImages',
  ] as const)
    nonNeg(k);
  for (const k of ['mixupProb', 'mixupSwitchProb', 'reprob', 'labelsFraction', 'layerDecay'] as const) {
    if (!(c[k] >= 0 && c[k] <= 1)) throw new Error(`finetune config: ${k} must be in [0, 1], got ${c[k]}`);
  }
  if (!(c.valFraction >= 0 && c.valFraction < 1)) throw new Error(`finetune config: valFraction must be in [0, 1), got ${c.valFraction}`);
  if (c.labelsFraction === 0) throw new Error('finetune config: labelsFraction must be > 0');
  if (c.dropPath >= 1) throw new Error(`finetune config: dropPath must be < 1, got ${c.dropPath}`);
  if (!isCimModelName(c.model)) throw new Error(`finetune config: unknown model ${c.model} (known: ${cimModelNames.join(', ')})`);
  if (c.encoder !== 'online' && c.encoder !== 'target')
    throw new Error(`finetune config: encoder must be online or target, got ${c.encoder}`);
  if (c.randAugment && !(c.randAugment.m >= 0 && c.randAugment.m <= 10 && Number.isInteger(c.randAugment.n) && c.randAugment.n >= 0)) {
    throw new Error(`finetune config: randAugment needs integer n >= 0 and m in [0, 10], got ${JSON.stringify(c.randAugment)}`);
  }
  return c;
}

/** Named fine-tuning configs (applied over the defaults); `smoke` takes well under a minute on CPU. */
export const finetunePresets: Record<string, { description: string; config: Partial<FinetuneConfig> }> = {
  smoke: {
    description: 'micro ViT/4 at 32 px, 512 Fashion-MNIST training images, 1 epoch, top-1 on 256 test images',
    config: {
      model: 'cimVitMicroPatch4',
      dataset: { kind: 'fashion-mnist', split: 'train', limit: 512 },
      evalDataset: { kind: 'fashion-mnist', split: 'test', limit: 256 },
      epochs: 1,
      warmupEpochs: 0.2,
      batchSize: 32,
      checkpointEvery: 8,
    },
  },
};

export interface FinetunePlan {
  trainImages: number;
  stepsPerEpoch: number;
  totalSteps: number;
  peakLr: number;
  imgSize: number;
  numClasses: number;
}

export function deriveFinetunePlan(c: FinetuneConfig, trainImages: number, imgSize: number, numClasses: number): FinetunePlan {
  const stepsPerEpoch = Math.floor(trainImages / c.batchSize);
  if (stepsPerEpoch < 1) throw new Error(`${trainImages} training images is less than one batch of ${c.batchSize}`);
  return {
    trainImages,
    stepsPerEpoch,
    totalSteps: Math.ceil(c.epochs * stepsPerEpoch),
    peakLr: (c.baseLr * c.batchSize) / 256,
    imgSize,
    numClasses,
  };
}
