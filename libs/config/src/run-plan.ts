/**
 * The plan of a run, derived once from its resolved config when it is submitted (stored on the
 * run, returned by GET /v1/runs/:id): effective batch, peak lr, warm-up and steps. Where the
 * dataset's size is not known before it is read (an image folder without a limit) the step
 * counts are null; the worker records the exact plan when it starts.
 */
import type { EvalConfig } from './eval-config.ts';
import type { FinetuneConfig } from './finetune-config.ts';
import { deriveTrainPlan, type PretrainConfig } from './pretrain-config.ts';
import { datasetClassCounts, datasetImages } from './schema/dataset-schema.ts';

export interface RunPlan {
  /** images per optimizer step, all ranks together */
  effectiveBatch: number;
  peakLr: number;
  epochs: number;
  warmupEpochs: number;
  /** training images (after limits and labelsFraction); null until the worker reads the data */
  trainImages: number | null;
  stepsPerEpoch: number | null;
  totalSteps: number | null;
  warmupSteps: number | null;
  /** who derived it: the API at submission (from the config), or the worker (from the data) */
  derivedBy: 'api' | 'worker';
}

/**
 * The labelled images a fine-tuning run trains on, by the engine's rule (libs/engine
 * validation-split.ts and stratifiedSubset): per class, a validation split of round(valFraction·n)
 * images (at least one) is carved first, then round(labelsFraction·rest) images (at least one) are
 * kept. Exact where the per-class counts are known (datasetClassCounts); otherwise the set is
 * counted as one class, which may differ from the engine's count by a few images. Null when the
 * dataset's size is unknown.
 */
export function finetuneTrainImages(dataset: FinetuneConfig['dataset'], valFraction: number, labelsFraction: number): number | null {
  const all = datasetImages(dataset);
  if (all === null) return null;
  const keep = (n: number, f: number) => Math.max(1, Math.round(f * n));
  const perClass = datasetClassCounts(dataset) ?? [all];
  let total = 0;
  for (const n of perClass) {
    const rest = valFraction > 0 ? n - keep(n, valFraction) : n;
    total += labelsFraction >= 1 ? rest : keep(rest, labelsFraction);
  }
  return total;
}

/** Throws when the data is known to be too small for one step (the message says why). */
export function deriveRunPlan(
  kind: 'pretrain' | 'finetune' | 'eval',
  config: PretrainConfig | FinetuneConfig | EvalConfig,
  worldSize: number,
): RunPlan {
  if (kind === 'pretrain') {
    const c = config as PretrainConfig;
    const effectiveBatch = c.batchSize * c.accumIter * worldSize;
    const images = datasetImages(c.dataset);
    const base = {
      effectiveBatch,
      peakLr: (c.baseLr * effectiveBatch) / 256,
      epochs: c.epochs,
      warmupEpochs: c.warmupEpochs,
      derivedBy: 'api' as const,
    };
    if (images === null) return { ...base, trainImages: null, stepsPerEpoch: null, totalSteps: null, warmupSteps: null };
    const p = deriveTrainPlan(c, Math.floor(images / worldSize), worldSize);
    return {
      ...base,
      trainImages: images,
      stepsPerEpoch: p.stepsPerEpoch,
      totalSteps: p.totalSteps,
      warmupSteps: Math.round(c.warmupEpochs * p.stepsPerEpoch),
    };
  }
  if (kind === 'finetune') {
    const c = config as FinetuneConfig;
    const trainImages = finetuneTrainImages(c.dataset, c.valFraction, c.labelsFraction);
    const base = {
      effectiveBatch: c.batchSize,
      peakLr: (c.baseLr * c.batchSize) / 256,
      epochs: c.epochs,
      warmupEpochs: c.warmupEpochs,
      derivedBy: 'api' as const,
    };
    if (trainImages === null) return { ...base, trainImages: null, stepsPerEpoch: null, totalSteps: null, warmupSteps: null };
    const stepsPerEpoch = Math.floor(trainImages / c.batchSize);
    if (stepsPerEpoch < 1) throw new Error(`${trainImages} training images is less than one batch of ${c.batchSize}`);
    return {
      ...base,
      trainImages,
      stepsPerEpoch,
      totalSteps: Math.ceil(c.epochs * stepsPerEpoch),
      warmupSteps: Math.round(c.warmupEpochs * stepsPerEpoch),
    };
  }
  const c = config as EvalConfig;
  const all = datasetImages(c.dataset);
  const images = all === null ? c.images || null : c.images > 0 ? Math.min(c.images, all) : all;
  return {
    effectiveBatch: c.batchSize,
    peakLr: 0,
    epochs: 0,
    warmupEpochs: 0,
    trainImages: null,
    stepsPerEpoch: null,
    totalSteps: images === null ? null : Math.ceil(images / c.batchSize),
    warmupSteps: null,
    derivedBy: 'api',
  };
}
