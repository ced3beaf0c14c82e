/** An `eval` run's config: every field, its default, its bounds (`EvalConfig` is its `Static`). */
import { Type } from 'typebox';
import { CORRUPTION_NAMES } from '../corruption-names.ts';
import { DatasetSpec } from './dataset-schema.ts';
import { MAX_BATCH } from './pretrain-schema.ts';
import { withDefault, Int, MAX_SEED, Num, StringEnum } from './schema-parts.ts';

export const EvalConfigSchema = Type.Object(
  {
    dataset: withDefault(DatasetSpec, { kind: 'fashion-mnist', split: 'test' }),
    images: Int(0, 100_000, { default: 1000, description: 'first N images (0 = all)' }),
    eps: Num(0, 1, { default: 1 / 255, description: 'L∞ attack radius in [0, 1] pixel units (0 = no attacks)' }),
    pgdSteps: Int(0, 100, { default: 10, description: 'PGD steps (0 = no PGD)' }),
    corruptions: Type.Array(StringEnum(CORRUPTION_NAMES), {
      maxItems: CORRUPTION_NAMES.length,
      uniqueItems: true,
      default: [...CORRUPTION_NAMES],
    }),
    severities: Type.Array(Int(1, 5), { maxItems: 5, uniqueItems: true, default: [1, 2, 3, 4, 5] }),
    batchSize: Int(1, MAX_BATCH, { default: 128 }),
    seed: Int(0, MAX_SEED, { default: 0 }),
  },
  { additionalProperties: false },
);
