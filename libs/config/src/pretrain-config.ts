/**
 * One validated pre-training config: defaults and presets here, derived values computed once
 * (`deriveTrainPlan`) and printed at start, the resolved config saved with every checkpoint.
 */
import {
  cimModelConfig,
  cimModelNames,
  isCimModelName,
  samplerConfig,
  type AnyCimModelConfig,
  type CimModelOverrides,
  type SamplerConfig,
} from '@cim-forge/cim/config';
import type { SourceSpec } from '@cim-forge/data';
import type { Static } from 'typebox';
import { PretrainConfigSchema } from './schema/pretrain-schema.ts';
import { schemaDefaults } from './schema/schema-parts.ts';

/**
 * The config's fields are the schema's (schema/pretrain-schema.ts: one place per field, with its
 * default, bounds and description). The nested specs are typed by the libs that read them: the
 * worker widens `dataset` (a local root, a cache dir) beyond what a client may write.
 */
export type PretrainConfig = Omit<Static<typeof PretrainConfigSchema>, 'modelOverrides' | 'sampler' | 'dataset'> & {
  modelOverrides: CimModelOverrides;
  sampler: Partial<SamplerConfig>;
  dataset: SourceSpec;
};

/** every field's default, from the schema */
export const defaultPretrainConfig: PretrainConfig = schemaDefaults(PretrainConfigSchema);

const smallSampler: Partial<SamplerConfig> = { searchSize: 48, contextSize: 32, exemplarSize: 16 };

/** Named configs. `cpu-small` is what `--dataset fashion-mnist` alone runs. */
export const presets: Record<string, { description: string; config: Partial<PretrainConfig> }> = {
  'cpu-small': {
    description: 'Micro ViT/4 on 32-px contexts, 6k Fashion-MNIST images, 1 epoch (192 steps): about 5 minutes on one CPU core',
    config: {
      model: 'cimVitMicroPatch4',
      sampler: smallSampler,
      dataset: { kind: 'fashion-mnist', split: 'train', limit: 6144 },
      batchSize: 32,
      epochs: 1,
      warmupEpochs: 0.1,
      baseLr: 0.02,
      checkpointEvery: 50,
      evalImages: 256,
    },
  },
  smoke: {
    description: 'about a minute on CPU: micro model, 1024 synthetic images, 1 epoch',
    config: {
      model: 'cimVitMicroPatch4',
      sampler: smallSampler,
      dataset: { kind: 'synthetic', size: 1024, imageSize: 48, seed: 0 },
      batchSize: 32,
      epochs: 1,
      warmupEpochs: 0.2,
      baseLr: 1.5e-3,
      checkpointEvery: 16,
      evalImages: 64,
    },
  },
  'cpu-resnet': {
    description:
      'Micro ResNet (basic blocks [1,1,1,1], 16..128 wide, stride 8) on 32-px contexts, ' +
      '2k Fashion-MNIST images, 1 epoch (64 steps): about 4 minutes on one CPU core',
    config: {
      model: 'cimResnetMicro',
      sampler: smallSampler,
      dataset: { kind: 'fashion-mnist', split: 'train', limit: 2048 },
      batchSize: 32,
      epochs: 1,
      warmupEpochs: 0.1,
      baseLr: 0.02,
      checkpointEvery: 20,
      evalImages: 256,
    },
  },
  'bench-vit-tiny': {
    description: 'ViT-Tiny/16, search 224, context 160, exemplar 64, 6 exemplars, batch 8 (the benchmark shape)',
    config: { model: 'cimVitTinyPatch16', batchSize: 8, sampler: {} },
  },
  'official-vit-base': {
    description:
      'the paper: ViT-B/16, 300 epochs, effective batch 4096 (64 × 8 accumulation × 8 ' +
      'GPUs; the authors ran 256 × 2, which does not fit one 80 GiB worker in float32 tfjs)',
    config: {
      model: 'cimVitBasePatch16',
      batchSize: 64,
      accumIter: 8,
      epochs: 300,
      warmupEpochs: 40,
      dataset: { kind: 'image-folder', root: 'imagenet/train' },
    },
  },
};

export function resolvePretrainConfig(preset: string | undefined, overrides: Partial<PretrainConfig> = {}): PretrainConfig {
  let base = { ...defaultPretrainConfig };
  if (preset) {
    const p = Object.hasOwn(presets, preset) ? presets[preset] : undefined;
    if (!p) throw new Error(`unknown preset "${preset}"; choose one of: ${Object.keys(presets).join(', ')}`);
    base = { ...base, ...p.config };
  }
  const cfg: PretrainConfig = { ...base, ...overrides };
  validatePretrainConfig(cfg);
  return cfg;
}

export function validatePretrainConfig(c: PretrainConfig): void {
  const bad = (msg: string) => {
    throw new Error(`config: ${msg}`);
  };
  if (!isCimModelName(c.model)) bad(`model "${c.model}" is not one of ${cimModelNames.join(', ')}`);
  for (const k of ['batchSize', 'accumIter', 'keepCheckpoints'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(`${k} must be a positive integer, got ${c[k]}`);
  }
  for (const k of ['checkpointEvery', 'workers', 'evalImages', 'seed'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) bad(`${k} must be a non-negative integer, got ${c[k]}`);
  }
  // configs saved before keepBest existed lack it (the engine then keeps 1)
  if (c.keepBest !== undefined && !(Number.isInteger(c.keepBest) && c.keepBest >= 0))
    bad(`keepBest must be a non-negative integer, got ${c.keepBest}`);
  if (!Number.isInteger(c.prefetch) || c.prefetch < 1) bad(`prefetch must be a positive integer, got ${c.prefetch}`);
  if (!(c.epochs > 0)) bad(`epochs must be positive, got ${c.epochs}`);
  if (!(c.warmupEpochs >= 0 && c.warmupEpochs <= c.epochs)) bad(`warmupEpochs must be in [0, epochs], got ${c.warmupEpochs}`);
  for (const k of ['baseLr', 'minLr', 'weightDecay'] as const) if (!(c[k] >= 0)) bad(`${k} must be >= 0, got ${c[k]}`);
  for (const k of ['beta1', 'beta2'] as const) if (!(c[k] >= 0 && c[k] < 1)) bad(`${k} must be in [0, 1), got ${c[k]}`);
  if (!(c.momentumBase >= 0 && c.momentumBase <= c.momentumEnd && c.momentumEnd <= 1))
    bad('momentum must satisfy 0 <= momentumBase <= momentumEnd <= 1');
  if (c.clipGrad !== null && !(c.clipGrad > 0)) bad(`clipGrad must be positive or null, got ${c.clipGrad}`);
  let m: AnyCimModelConfig;
  try {
    m = modelConfigOf(c);
  } catch (e) {
    return bad((e as Error).message);
  }
  const s = samplerConfigOf(c);
  if (s.contextSize !== m.contextSize) bad(`sampler contextSize ${s.contextSize} differs from the model's ${m.contextSize}`);
  if (s.exemplarSize !== m.templateSize)
    bad(`sampler exemplarSize ${s.exemplarSize} differs from the model's templateSize ${m.templateSize}`);
  if (s.numExemplars !== m.numTemplates)
    bad(`sampler numExemplars ${s.numExemplars} differs from the model's numTemplates ${m.numTemplates}`);
}

/** The model's resolved config: a ViT's or a ResNet's (`architectureOf` tells which). */
export function modelConfigOf(c: PretrainConfig): AnyCimModelConfig {
  return cimModelConfig(c.model, c.modelOverrides);
}

/** The sampler config follows the model's sizes unless the config overrides them. */
export function samplerConfigOf(c: PretrainConfig): SamplerConfig {
  const m = modelConfigOf(c);
  return samplerConfig({ contextSize: m.contextSize, exemplarSize: m.templateSize, numExemplars: m.numTemplates, ...c.sampler });
}

/** Values derived once from the config and the data, printed at start. */
export interface TrainPlan {
  worldSize: number;
  effectiveBatch: number;
  peakLr: number;
  /** micro-batches per epoch per rank */
  batchesPerEpoch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  imagesPerEpoch: number;
}

export function deriveTrainPlan(c: PretrainConfig, shardSizePerRank: number, worldSize = 1): TrainPlan {
  const batchesPerEpoch = Math.floor(shardSizePerRank / c.batchSize);
  if (batchesPerEpoch < c.accumIter) {
    throw new Error(
      `dataset too small: ${shardSizePerRank} images per rank give ${batchesPerEpoch} batches of ${c.batchSize}, fewer than accumIter ${c.accumIter}`,
    );
  }
  const stepsPerEpoch = Math.floor(batchesPerEpoch / c.accumIter);
  const effectiveBatch = c.batchSize * c.accumIter * worldSize;
  return {
    worldSize,
    effectiveBatch,
    peakLr: (c.baseLr * effectiveBatch) / 256,
    batchesPerEpoch,
    stepsPerEpoch,
    totalSteps: Math.max(1, Math.round(stepsPerEpoch * c.epochs)),
    imagesPerEpoch: stepsPerEpoch * effectiveBatch,
  };
}
