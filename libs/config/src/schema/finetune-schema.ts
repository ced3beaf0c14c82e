/**
 * A `finetune` run's config: every field, its default, its bounds — the one place a field is written
 * (`FinetuneConfig` is its `Static`, `defaultFinetuneConfig` its defaults). The defaults are the
 * recipe's (ViT-B: 100 epochs, base lr 1.2e-3, decay 0.8, …); epochs and batch sized for a CPU.
 */
import { Type } from 'typebox';
import { modelFactories } from '@cim-forge/cim/config';
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
      default: 'cimVitMicroPatch4',
      description: "the encoder's shape from scratch (a checkpoint's metadata wins otherwise)",
    }),
    modelOverrides: withDefault(VitOverrides, {}),
    initFrom: Nullable(Type.String({ minLength: 1, maxLength: 4096 }), {
      default: null,
      description: "set by the worker from the run's source; clients leave it null",
    }),
    encoder: StringEnum(['online', 'target'] as const, { default: 'online' }),
    imgSize: Nullable(Int(4, MAX_IMAGE_SIDE), { default: null, description: "null = the encoder's imgSize" }),
    dataset: withDefault(DatasetSpec, { kind: 'fashion-mnist', split: 'train' }),
    evalDataset: withDefault(DatasetSpec, { kind: 'fashion-mnist', split: 'test' }),
    labelsFraction: PositiveNum(1, {
      default: 1,
      description: 'fine-tune on a stratified fraction of the training labels (deterministic by seed)',
    }),
    epochs: PositiveNum(MAX_EPOCHS, { default: 100 }),
    warmupEpochs: Num(0, MAX_EPOCHS, { default: 5 }),
    batchSize: Int(1, MAX_BATCH, { default: 64 }),
    baseLr: Num(0, 10, { default: 1.2e-3, description: 'peak lr = baseLr × batch / 256' }),
    minLr: Num(0, 10, { default: 1e-6 }),
    layerDecay: Num(0, 1, { default: 0.8 }),
    weightDecay: Num(0, 10, { default: 0.05 }),
    beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.9 }),
    beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.999 }),
    dropPath: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.1 }),
    labelSmoothing: Num(0, 1, { default: 0.1 }),
    mixup: Num(0, 100, { default: 0.8, description: 'mixup α (0 = off)' }),
    cutmix: Num(0, 100, { default: 1.0, description: 'cutmix α (0 = off)' }),
    mixupProb: Num(0, 1, { default: 1 }),
    mixupSwitchProb: Num(0, 1, { default: 0.5 }),
    valFraction: Num(0, 0.9, {
      default: 0,
      description: 'validation fraction carved from dataset (scored every epoch; evalDataset scored at the end); 0 = none',
    }),
    reprob: Num(0, 1, { default: 0.25, description: 'random erasing probability' }),
    randAugment: Nullable(RandAugmentSchema, { default: { n: 2, m: 9, mstd: 0.5 }, description: 'null = off' }),
    seed: Int(0, MAX_SEED, { default: 0 }),
    checkpointEvery: Int(0, 10_000_000, { default: 0 }),
    stopAtStep: Nullable(Int(1, 1_000_000_000), {
      default: null,
      description:
        'end this invocation after this optimizer step, with an evaluation and a checkpoint, keeping the ' +
        "whole run's schedule (a sweep's rung); a resume with a larger value (or null) goes on from there",
    }),
    keepCheckpoints: Int(1, 1000, { default: 2 }),
    evalImages: Int(0, 1_000_000, { default: 0, description: 'held-out images scored each epoch (0 = all)' }),
  },
  { additionalProperties: false },
);
