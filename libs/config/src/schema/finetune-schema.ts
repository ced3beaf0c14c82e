/** A `finetune` run's config: every field, its default, its bounds. */
import { Type } from 'typebox';
import { modelFactories } from '@cim-forge/cim/config';
import { defaultFinetuneConfig as d } from '../finetune-config.ts';
import { DatasetSpec } from './dataset-schema.ts';
import { VitOverrides, MAX_IMAGE_SIDE } from './model-overrides-schema.ts';
import { MAX_BATCH, MAX_EPOCHS } from './pretrain-schema.ts';
import { withDefault, Int, MAX_SEED, Nullable, Num, PositiveNum, StringEnum } from './schema-parts.ts';

export const RandAugmentSchema = Type.Object(
  {
    n: Int(0, 16, { description: 'ops per image' }),
    m: Num(0, 10, { description: 'magnitude' }),
    mstd: Num(0, 10, { description: 'std of the per-op magnitude noise' }),
  },
  { additionalProperties: false },
);

export const FinetuneConfigSchema = Type.Object(
  {
    // the service fine-tunes ViTs (VitOverrides below); ResNet classifiers are CLI-only for now
    model: StringEnum(Object.keys(modelFactories) as (keyof typeof modelFactories)[], {
      default: d.model as keyof typeof modelFactories,
      description: "the encoder's shape from scratch (a checkpoint's metadata wins otherwise)",
    }),
    modelOverrides: withDefault(VitOverrides, {}),
    initFrom: Nullable(Type.String({ minLength: 1, maxLength: 4096 }), {
      default: null,
      description: "set by the worker from the run's source; clients leave it null",
    }),
    encoder: StringEnum(['online', 'target'] as const, { default: d.encoder }),
    imgSize: Nullable(Int(4, MAX_IMAGE_SIDE), { default: d.imgSize, description: "null = the encoder's imgSize" }),
    dataset: withDefault(DatasetSpec, d.dataset),
    evalDataset: withDefault(DatasetSpec, d.evalDataset),
    labelsFraction: PositiveNum(1, { default: d.labelsFraction }),
    epochs: PositiveNum(MAX_EPOCHS, { default: d.epochs }),
    warmupEpochs: Num(0, MAX_EPOCHS, { default: d.warmupEpochs }),
    batchSize: Int(1, MAX_BATCH, { default: d.batchSize }),
    baseLr: Num(0, 10, { default: d.baseLr, description: 'peak lr = baseLr × batch / 256' }),
    minLr: Num(0, 10, { default: d.minLr }),
    layerDecay: Num(0, 1, { default: d.layerDecay }),
    weightDecay: Num(0, 10, { default: d.weightDecay }),
    beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: d.beta1 }),
    beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: d.beta2 }),
    dropPath: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: d.dropPath }),
    labelSmoothing: Num(0, 1, { default: d.labelSmoothing }),
    mixup: Num(0, 100, { default: d.mixup, description: 'mixup α (0 = off)' }),
    cutmix: Num(0, 100, { default: d.cutmix, description: 'cutmix α (0 = off)' }),
    mixupProb: Num(0, 1, { default: d.mixupProb }),
    mixupSwitchProb: Num(0, 1, { default: d.mixupSwitchProb }),
    valFraction: Num(0, 0.9, {
      default: d.valFraction,
      description: 'validation fraction carved from dataset (scored every epoch; evalDataset scored at the end); 0 = none',
    }),
    reprob: Num(0, 1, { default: d.reprob, description: 'random erasing probability' }),
    randAugment: Nullable(RandAugmentSchema, { default: d.randAugment, description: 'null = off' }),
    seed: Int(0, MAX_SEED, { default: d.seed }),
    checkpointEvery: Int(0, 10_000_000, { default: d.checkpointEvery }),
    keepCheckpoints: Int(1, 1000, { default: d.keepCheckpoints }),
    evalImages: Int(0, 1_000_000, { default: d.evalImages, description: 'held-out images scored each epoch (0 = all)' }),
  },
  { additionalProperties: false },
);
