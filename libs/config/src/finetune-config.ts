/**
 * One validated fine-tuning config (the recipe's "Fine-tuning" section as defaults), and the plan
 * derived from it once the data's size is known.
 */
import { cimModelNames, isCimModelName, type CimModelName, type CimModelOverrides } from '@cim-forge/cim/config';
import type { SourceSpec } from '@cim-forge/data';
import type { Static } from 'typebox';
import { FinetuneConfigSchema, type RandAugmentSchema } from './schema/finetune-schema.ts';
import { schemaDefaults } from './schema/schema-parts.ts';
import { heldOutSplits } from './dataset-root.ts';
/** RandAugment-lite: n ops per image at magnitude m (0..10), per-op magnitude noise mstd (timm) */
export type RandAugmentConfig = Static<typeof RandAugmentSchema>;

/**
 * The config's fields are the schema's (schema/finetune-schema.ts). The encoder may be a ResNet on
 * the CLI (the service's schema takes ViTs), and the nested specs are typed by the libs that read them.
 */
export type FinetuneConfig = Omit<Static<typeof FinetuneConfigSchema>, 'model' | 'modelOverrides' | 'dataset' | 'evalDataset'> & {
  model: CimModelName;
  modelOverrides: CimModelOverrides;
  dataset: SourceSpec;
  /** the held-out split for top-1 every epoch */
  evalDataset: SourceSpec;
};

/** every field's default, from the schema */
export const defaultFinetuneConfig: FinetuneConfig = schemaDefaults(FinetuneConfigSchema);

/** The share of a run the default warm-up takes: the recipe's 5 of 100 epochs. */
export const RECIPE_WARMUP_FRACTION = 0.05;

/**
 * The warm-up a fine-tune gets when none is given, on every path (the CLI, REST, a stored config
 * read back): the recipe warms up 5 of its 100 epochs, so a run warms up the same share of its own
 * length, at most the schema's 5 epochs; a 5-epoch run reaches its peak lr after a quarter epoch
 * instead of never (issue 26).
 */
export function defaultWarmupEpochs(epochs: number): number {
  return Math.min(defaultFinetuneConfig.warmupEpochs, RECIPE_WARMUP_FRACTION * epochs);
}

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
  if (o.warmupEpochs === undefined) c.warmupEpochs = defaultWarmupEpochs(c.epochs);
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
