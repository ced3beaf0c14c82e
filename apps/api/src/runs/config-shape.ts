/**
 * The shape a submitted config may have, derived from the config lib's defaults so the two never
 * drift: only known fields (at every depth), each of the default's JSON type, within sane bounds.
 * The config lib checks values (ranges, model/sampler agreement) but accepts any key and, for
 * some fields, any type; this check runs first so neither reaches it.
 */
import {
  defaultEvalConfig,
  defaultFinetuneConfig,
  defaultPretrainConfig,
  samplerConfigOf,
} from '@cim-forge/config';
import { badRequest } from '../http-error.ts';
import { checkImageFolder } from './image-folder-shape.ts';

export type Shape =
  | { type: 'number' | 'string' | 'boolean' }
  | { type: 'nullable'; of: Shape }
  | { type: 'array'; of: Shape | null }
  | { type: 'object'; fields: Record<string, Shape>; required?: string[] }
  | { type: 'dataset' }
  /** any JSON object whose keys another checker owns (model overrides: the model lib knows each model's fields) */
  | { type: 'open' }
  /** a field a client may only leave null (so a resolved config round-trips); the string says why */
  | { type: 'refused'; reason: string };

export function shapeOf(value: unknown): Shape {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return { type: typeof value as 'number' };
  if (Array.isArray(value)) return { type: 'array', of: value.length ? shapeOf(value[0]) : null };
  if (value && typeof value === 'object') {
    return { type: 'object', fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)])) };
  }
  throw new Error(`no shape for ${JSON.stringify(value)}: give it explicitly`);
}

/** largest accepted value of a numeric field, wherever it appears (absurd sizes are refused early) */
export const NUMBER_LIMITS: Record<string, number> = {
  batchSize: 65536,
  accumIter: 4096,
  epochs: 100000,
  warmupEpochs: 100000,
  keepCheckpoints: 1000,
  keepBest: 1000,
  workers: 64,
  prefetch: 64,
  evalImages: 100_000_000,
  images: 100_000_000,
  limit: 100_000_000,
  size: 100_000_000,
  imageSize: 4096,
  maxSide: 4096,
  imgSize: 4096,
  searchSize: 4096,
  contextSize: 4096,
  exemplarSize: 4096,
  templateSize: 4096,
  numExemplars: 64,
  numTemplates: 64,
  depth: 256,
  embedDim: 16384,
  decoderEmbedDim: 16384,
  numHeads: 256,
  decoderNumHeads: 256,
};

const num: Shape = { type: 'number' };
const str: Shape = { type: 'string' };
const initFromRefused: Shape = { type: 'refused', reason: 'weights come only from the run\'s source' };

/** dataset specs by kind (libs/data SourceSpec); cacheDir is the worker's business, not a client's */
const DATASETS: Record<string, { fields: Record<string, Shape>; required: string[] }> = {
  'fashion-mnist': { fields: { kind: str, split: str, limit: num }, required: ['split'] },
  // root: relative to the team's data area (dataset-root.ts); `area` is the worker's, never a client's
  'image-folder': { fields: { kind: str, root: str, maxSide: num, limit: num, split: str, valFraction: num, splitSeed: num, store: str }, required: ['root'] },
  synthetic: { fields: { kind: str, size: num, imageSize: num, seed: num }, required: ['size', 'imageSize', 'seed'] },
};
const SPLITS = ['train', 'test'];

/** the defaults' shape, with `patch` for the fields a default cannot describe (null, unions) */
function objectShape(defaults: object, patch: Record<string, Shape>): Shape {
  const fields = Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, Object.hasOwn(patch, k) ? patch[k] : shapeOf(v)]));
  return { type: 'object', fields };
}

// model overrides differ by model (a ViT's vs a ResNet's fields); the model lib refuses unknown ones
const modelOverrides: Shape = { type: 'open' };

export const pretrainConfigShape: Shape = objectShape(defaultPretrainConfig, {
  modelOverrides,
  sampler: shapeOf(samplerConfigOf(defaultPretrainConfig)),
  dataset: { type: 'dataset' },
  clipGrad: { type: 'nullable', of: num },
  initFrom: initFromRefused,
});

export const finetuneConfigShape: Shape = objectShape(defaultFinetuneConfig, {
  modelOverrides,
  dataset: { type: 'dataset' },
  evalDataset: { type: 'dataset' },
  imgSize: { type: 'nullable', of: num },
  randAugment: { type: 'nullable', of: shapeOf(defaultFinetuneConfig.randAugment) },
  initFrom: initFromRefused,
});

export const evalConfigShape: Shape = objectShape(defaultEvalConfig, { dataset: { type: 'dataset' } });

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws a 400 naming the first field (as "body/config/…") that does not fit the shape. */
export function checkShape(value: unknown, shape: Shape, path: string, key = ''): void {
  const fail = (what: string) => {
    throw badRequest(`${path} ${what}`);
  };
  switch (shape.type) {
    case 'refused':
      if (value !== null) fail(`is not accepted: ${shape.reason}`);
      return;
    case 'nullable':
      if (value !== null) checkShape(value, shape.of, path, key);
      return;
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return fail(`must be a number, got ${JSON.stringify(value)}`);
      const limit = NUMBER_LIMITS[key];
      if (limit !== undefined && value > limit) fail(`must be <= ${limit}, got ${value}`);
      return;
    }
    case 'string':
    case 'boolean':
      if (typeof value !== shape.type) fail(`must be a ${shape.type}, got ${JSON.stringify(value)}`);
      return;
    case 'array':
      if (!Array.isArray(value)) return fail(`must be an array, got ${JSON.stringify(value)}`);
      if (value.length > 1000) fail(`must have at most 1000 items, got ${value.length}`);
      if (shape.of) value.forEach((v, i) => checkShape(v, shape.of!, `${path}/${i}`, key));
      return;
    case 'dataset': {
      if (!isPlainObject(value)) return fail(`must be an object, got ${JSON.stringify(value)}`);
      const spec = typeof value.kind === 'string' && Object.hasOwn(DATASETS, value.kind) ? DATASETS[value.kind] : undefined;
      if (!spec) return fail(`kind must be one of ${Object.keys(DATASETS).join(', ')}, got ${JSON.stringify(value.kind)}`);
      checkShape(value, { type: 'object', fields: spec.fields, required: spec.required }, path);
      if (value.kind === 'fashion-mnist' && !SPLITS.includes(value.split as string)) fail(`split must be one of ${SPLITS.join(', ')}`);
      if (value.kind === 'image-folder') checkImageFolder(value, path);
      return;
    }
    case 'open':
      if (!isPlainObject(value)) return fail(`must be an object, got ${JSON.stringify(value)}`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v === 'number' || isPlainObject(v) || Array.isArray(v)) checkOpen(v, `${path}/${k}`, k);
      }
      return;
    case 'object': {
      if (!isPlainObject(value)) return fail(`must be an object, got ${JSON.stringify(value)}`);
      for (const [k, v] of Object.entries(value)) {
        if (!Object.hasOwn(shape.fields, k)) fail(`has unknown field "${k}"; known: ${Object.keys(shape.fields).join(', ')}`);
        checkShape(v, shape.fields[k], `${path}/${k}`, k);
      }
      for (const k of shape.required ?? []) if (!(k in value)) fail(`needs field "${k}"`);
      return;
    }
  }
}

/** numbers anywhere inside an open object: finite and within NUMBER_LIMITS */
function checkOpen(value: unknown, path: string, key: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw badRequest(`${path} must be a finite number`);
    const limit = NUMBER_LIMITS[key];
    if (limit !== undefined && value > limit) throw badRequest(`${path} must be <= ${limit}, got ${value}`);
  } else if (Array.isArray(value)) value.forEach((v, i) => checkOpen(v, `${path}/${i}`, key));
  else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) checkOpen(v, `${path}/${k}`, k);
}
