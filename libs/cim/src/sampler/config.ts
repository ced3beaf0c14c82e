/**
 * The sampler's one validated config: defaults here, merged and checked once by `samplerConfig`.
 * Official values: docs/cim-recipe.md "One training sample" (the authors' scripts/dist_pretrain.sh).
 */
import type { SamplerConfig } from './types.ts';

const pair = (lo: number, hi: number): [number, number] => Object.freeze([lo, hi]) as [number, number];

export const officialSamplerConfig: Readonly<SamplerConfig> = Object.freeze({
  searchSize: 224,
  contextSize: 160,
  exemplarSize: 64,
  numExemplars: 6,
  searchScale: pair(0.5, 1.0),
  searchRatio: pair(3 / 4, 4 / 3),
  exemplarScale: pair(0.05, 0.48),
  exemplarRatio: pair(1 / 3, 3),
  rotation: pair(-45, 45),
  augment: true,
  searchFlipP: 0.5,
});

/** Same recipe at CPU-friendly sizes (a patch-4 ViT sees an 8×8 context grid, 4×4 exemplars). */
export const smallSamplerConfig: Readonly<SamplerConfig> = Object.freeze({
  ...officialSamplerConfig,
  searchSize: 64,
  contextSize: 32,
  exemplarSize: 16,
});

const KEYS: readonly (keyof SamplerConfig)[] = [
  'searchSize',
  'contextSize',
  'exemplarSize',
  'numExemplars',
  'searchScale',
  'searchRatio',
  'exemplarScale',
  'exemplarRatio',
  'rotation',
  'augment',
  'searchFlipP',
];

function positiveInt(cfg: SamplerConfig, key: keyof SamplerConfig): void {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`sampler config: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
  }
}

function range(cfg: SamplerConfig, key: keyof SamplerConfig, lo: number, hi: number, integer = false): void {
  const v = cfg[key];
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new Error(`sampler config: ${key} must be a [lo, hi] pair of finite numbers, got ${JSON.stringify(v)}`);
  }
  if (integer && !v.every(Number.isInteger)) throw new Error(`sampler config: ${key} must be integers, got ${JSON.stringify(v)}`);
  if (!(v[0] < v[1])) throw new Error(`sampler config: ${key} must have lo < hi, got ${JSON.stringify(v)}`);
  if (v[0] < lo || v[1] > hi) throw new Error(`sampler config: ${key} must lie in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
}

/** Throws an Error naming the first bad field; returns the config unchanged. */
export function validateSamplerConfig(cfg: SamplerConfig): SamplerConfig {
  for (const k of Object.keys(cfg)) {
    if (!KEYS.includes(k as keyof SamplerConfig)) throw new Error(`sampler config: unknown field ${k}`);
  }
  for (const k of ['searchSize', 'contextSize', 'exemplarSize', 'numExemplars'] as const) positiveInt(cfg, k);
  range(cfg, 'searchScale', Number.MIN_VALUE, 1);
  range(cfg, 'exemplarScale', Number.MIN_VALUE, 1);
  range(cfg, 'searchRatio', Number.MIN_VALUE, Infinity);
  range(cfg, 'exemplarRatio', Number.MIN_VALUE, Infinity);
  // [lo, hi) with hi exclusive: [0, 1) means "no rotation"
  range(cfg, 'rotation', -180, 181, true);
  if (typeof cfg.augment !== 'boolean') throw new Error(`sampler config: augment must be a boolean, got ${JSON.stringify(cfg.augment)}`);
  const p = cfg.searchFlipP;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new Error(`sampler config: searchFlipP must be a probability in [0, 1], got ${JSON.stringify(p)}`);
  }
  return cfg;
}

/** `base` (official by default) with `overrides` merged in, validated, as a fresh object. */
export function samplerConfig(
  overrides: Partial<SamplerConfig> = {},
  base: Readonly<SamplerConfig> = officialSamplerConfig,
): SamplerConfig {
  const cfg: SamplerConfig = { ...base, ...overrides } as SamplerConfig;
  for (const k of ['searchScale', 'searchRatio', 'exemplarScale', 'exemplarRatio', 'rotation'] as const) {
    if (Array.isArray(cfg[k])) cfg[k] = [...cfg[k]] as [number, number];
  }
  return validateSamplerConfig(cfg);
}
