/**
 * An `eval` run's config: robustness of a fine-tuned classifier (clean, FGSM, PGD, corruptions),
 * the service's equivalent of `cim eval`. The corruption names mirror libs/engine's list.
 */
import type { SourceSpec } from '@cim-forge/data';
import type { Static } from 'typebox';
import { EvalConfigSchema } from './schema/eval-schema.ts';
import { schemaDefaults } from './schema/schema-parts.ts';

import { CORRUPTION_NAMES } from './corruption-names.ts';

export { CORRUPTION_NAMES };

/** The config's fields are the schema's (schema/eval-schema.ts); `dataset` is typed by libs/data. */
export type EvalConfig = Omit<Static<typeof EvalConfigSchema>, 'dataset' | 'corruptions'> & {
  /** labelled held-out images (Fashion-MNIST test by default; an image folder's held-out part) */
  dataset: SourceSpec;
  corruptions: string[];
};

/** every field's default, from the schema */
export const defaultEvalConfig: EvalConfig = schemaDefaults(EvalConfigSchema);

/** An image folder without a `split` is scored on its held-out part (val/ folders, else the seeded 20%). */
export function resolveEvalConfig(o: Partial<EvalConfig> = {}): EvalConfig {
  const c = { ...defaultEvalConfig, ...o };
  if (c.dataset.kind === 'image-folder' && c.dataset.split === undefined) c.dataset = { ...c.dataset, split: 'val' };
  const bad = (m: string) => {
    throw new Error(`eval config: ${m}`);
  };
  if (!Number.isInteger(c.images) || c.images < 0) bad(`images must be a non-negative integer, got ${c.images}`);
  if (!(c.eps >= 0 && c.eps <= 1)) bad(`eps must be in [0, 1], got ${c.eps}`);
  if (!Number.isInteger(c.pgdSteps) || c.pgdSteps < 0 || c.pgdSteps > 1000)
    bad(`pgdSteps must be an integer in [0, 1000], got ${c.pgdSteps}`);
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1) bad(`batchSize must be a positive integer, got ${c.batchSize}`);
  for (const n of c.corruptions)
    if (!(CORRUPTION_NAMES as readonly string[]).includes(n)) bad(`unknown corruption "${n}"; choose from ${CORRUPTION_NAMES.join(', ')}`);
  if (c.severities.some((s) => !Number.isInteger(s) || s < 1 || s > 5))
    bad(`severities must be integers 1..5, got ${JSON.stringify(c.severities)}`);
  return c;
}

/** Named eval configs; `smoke` takes seconds on CPU. */
export const evalPresets: Record<string, { description: string; config: Partial<EvalConfig> }> = {
  smoke: {
    description: '128 Fashion-MNIST test images, FGSM and 3-step PGD at 2/255, two corruptions at severity 3',
    config: { images: 128, eps: 2 / 255, pgdSteps: 3, corruptions: ['gaussian_noise', 'contrast'], severities: [3] },
  },
};
