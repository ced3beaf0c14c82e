/**
 * A `pretrain` run's config: every field, its default, its bounds — the one place a field is written
 * (`PretrainConfig` is its `Static`, `defaultPretrainConfig` its defaults).
 */
import { Type } from 'typebox';
import { cimModelNames } from '@cim-forge/cim/config';
import { DatasetSpec } from './dataset-schema.ts';
import { ModelOverrides } from './model-overrides-schema.ts';
import { SamplerOverrides } from './sampler-schema.ts';
import { withDefault, Int, MAX_SEED, Nullable, Num, PositiveNum, StringEnum } from './schema-parts.ts';

/** the largest batch, per rank per micro-batch */
export const MAX_BATCH = 4096;
export const MAX_EPOCHS = 10_000;

export const PretrainConfigSchema = Type.Object(
  {
    model: StringEnum(cimModelNames, { default: 'cimVitTinyPatch16', description: 'a ViT (cimVit…) or a ResNet (cimResnet…) factory' }),
    modelOverrides: withDefault(ModelOverrides, {}),
    sampler: withDefault(SamplerOverrides, {}),
    dataset: withDefault(DatasetSpec, { kind: 'fashion-mnist', split: 'train' }),
    batchSize: Int(1, MAX_BATCH, { default: 64, description: 'images per rank per micro-batch' }),
    accumIter: Int(1, 1024, { default: 1, description: 'micro-batches per optimizer step' }),
    epochs: PositiveNum(MAX_EPOCHS, { default: 300 }),
    warmupEpochs: Num(0, MAX_EPOCHS, { default: 40, description: 'at most epochs' }),
    baseLr: Num(0, 10, { default: 1.5e-4, description: 'lr = baseLr × effective batch / 256' }),
    minLr: Num(0, 10, { default: 0 }),
    weightDecay: Num(0, 10, { default: 0.05 }),
    beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.9 }),
    beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.95 }),
    clipGrad: Nullable(PositiveNum(1e6), { default: null, description: 'global gradient-norm clip; null = off' }),
    momentumBase: Num(0, 1, { default: 0.99 }),
    momentumEnd: Num(0, 1, { default: 1.0 }),
    seed: Int(0, MAX_SEED, { default: 0 }),
    checkpointEvery: Int(0, 10_000_000, {
      default: 0,
      description: 'optimizer steps between checkpoints (0 = at the end only)',
    }),
    stopAtStep: Nullable(Int(1, 1_000_000_000), {
      default: null,
      description:
        "end this invocation after this optimizer step, with a checkpoint, keeping the whole run's " +
        "schedule (a sweep's rung); a resume with a larger value (or null) goes on from there",
    }),
    keepCheckpoints: Int(1, 1000, { default: 3, description: 'checkpoints kept (the newest K)' }),
    keepBest: Int(0, 1000, { default: 1, description: "and, besides those, the best M by their step's loss (0 = only the newest K)" }),
    workers: Int(0, 64, { default: 1, description: 'sampling threads (0 = inline)' }),
    prefetch: Int(1, 64, { default: 2 }),
    evalImages: Int(0, 1_000_000, { default: 256, description: 'held-out images for the IoU evaluation at the end (0 = skip)' }),
    initFrom: Nullable(Type.String({ minLength: 1, maxLength: 4096 }), {
      default: null,
      description: "set by the worker from the run's source; clients leave it null",
    }),
  },
  { additionalProperties: false },
);
