/** A `pretrain` run's config: every field, its default, its bounds. */
import { Type } from 'typebox';
import { cimModelNames } from '@cim-forge/cim/config';
import { defaultPretrainConfig as d } from '../pretrain-config.ts';
import { DatasetSpec } from './dataset-schema.ts';
import { ModelOverrides } from './model-overrides-schema.ts';
import { SamplerOverrides } from './sampler-schema.ts';
import { withDefault, Int, MAX_SEED, Nullable, Num, PositiveNum, StringEnum } from './schema-parts.ts';

/** the largest batch, per rank per micro-batch */
export const MAX_BATCH = 4096;
export const MAX_EPOCHS = 10_000;

export const PretrainConfigSchema = Type.Object(
  {
    model: StringEnum(cimModelNames, { default: d.model, description: 'a ViT (cimVit…) or a ResNet (cimResnet…) factory' }),
    modelOverrides: withDefault(ModelOverrides, {}),
    sampler: withDefault(SamplerOverrides, {}),
    dataset: withDefault(DatasetSpec, d.dataset),
    batchSize: Int(1, MAX_BATCH, { default: d.batchSize, description: 'images per rank per micro-batch' }),
    accumIter: Int(1, 1024, { default: d.accumIter, description: 'micro-batches per optimizer step' }),
    epochs: PositiveNum(MAX_EPOCHS, { default: d.epochs }),
    warmupEpochs: Num(0, MAX_EPOCHS, { default: d.warmupEpochs, description: 'at most epochs' }),
    baseLr: Num(0, 10, { default: d.baseLr, description: 'lr = baseLr × effective batch / 256' }),
    minLr: Num(0, 10, { default: d.minLr }),
    weightDecay: Num(0, 10, { default: d.weightDecay }),
    beta1: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: d.beta1 }),
    beta2: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: d.beta2 }),
    clipGrad: Nullable(PositiveNum(1e6), { default: d.clipGrad, description: 'global gradient-norm clip; null = off' }),
    momentumBase: Num(0, 1, { default: d.momentumBase }),
    momentumEnd: Num(0, 1, { default: d.momentumEnd }),
    seed: Int(0, MAX_SEED, { default: d.seed }),
    checkpointEvery: Int(0, 10_000_000, {
      default: d.checkpointEvery,
      description: 'optimizer steps between checkpoints (0 = at the end only)',
    }),
    keepCheckpoints: Int(1, 1000, { default: d.keepCheckpoints }),
    keepBest: Int(0, 1000, { default: d.keepBest }),
    workers: Int(0, 64, { default: d.workers, description: 'sampling threads (0 = inline)' }),
    prefetch: Int(1, 64, { default: d.prefetch }),
    evalImages: Int(0, 1_000_000, { default: d.evalImages }),
    initFrom: Nullable(Type.String({ minLength: 1, maxLength: 4096 }), {
      default: null,
      description: "set by the worker from the run's source; clients leave it null",
    }),
  },
  { additionalProperties: false },
);
