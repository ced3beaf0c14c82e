/** An `eval` run's config: every field, its default, its bounds. */
import { Type } from 'typebox';
import { CORRUPTION_NAMES, defaultEvalConfig as d } from '../eval-config.ts';
import { DatasetSpec } from './dataset-schema.ts';
import { MAX_BATCH } from './pretrain-schema.ts';
import { withDefault, Int, MAX_SEED, Num, StringEnum } from './schema-parts.ts';

export const EvalConfigSchema = Type.Object(
  {
    dataset: withDefault(DatasetSpec, d.dataset),
    images: Int(0, 100_000, { default: d.images, description: 'first N images (0 = all)' }),
    eps: Num(0, 1, { default: d.eps, description: 'L∞ attack radius in [0, 1] pixel units (0 = no attacks)' }),
    pgdSteps: Int(0, 100, { default: d.pgdSteps, description: 'PGD steps (0 = no PGD)' }),
    corruptions: Type.Array(StringEnum(CORRUPTION_NAMES), { maxItems: CORRUPTION_NAMES.length, uniqueItems: true, default: d.corruptions }),
    severities: Type.Array(Int(1, 5), { maxItems: 5, uniqueItems: true, default: d.severities }),
    batchSize: Int(1, MAX_BATCH, { default: d.batchSize }),
    seed: Int(0, MAX_SEED, { default: d.seed }),
  },
  { additionalProperties: false },
);
