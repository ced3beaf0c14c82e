/**
 * Fine-tuning augmentation on the host, in plain JS on channels-last float images (small images:
 * cheaper than tensor ops and exactly reproducible from a seed):
 *   randAugmentLite   n ops from {shift x, shift y, flip, brightness, contrast, identity} at
 *                     magnitude m ∈ [0, 10] (timm's scale; m varied by N(0, mstd)), on 0..1 values
 *   randomErase       timm RandomErasing(mode='pixel'): one box of N(0, 1) noise, on normalized values
 *   mixupCutmix       timm Mixup(mode='batch'): one λ ~ Beta(α, α) per batch, sample i mixed with
 *                     sample B − 1 − i; cutmix λ corrected to the box's true area
 *   softTargets       smoothed one-hot targets mixed with the same λ (rows sum to 1)
 */
import type { Rng } from '@cim-forge/cim';

import type { RandAugmentConfig } from '@cim-forge/config';

type Op = (img: Float32Array, s: number, mag: number, rng: Rng) => void;

const ops: Record<string, Op> = {
  identity: () => {},
  flip: (img, s) => {
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s >> 1; x++) {
        const a = (y * s + x) * 3;
        const b = (y * s + (s - 1 - x)) * 3;
        for (let c = 0; c < 3; c++) {
          const t = img[a + c];
          img[a + c] = img[b + c];
          img[b + c] = t;
        }
      }
    }
  },
  // timm translate_rel: up to 0.45 of the side at m = 10; fill 0.5 (grey)
  shiftX: (img, s, mag, rng) => shift(img, s, Math.round(sign(rng) * mag * 0.045 * s), 0),
  shiftY: (img, s, mag, rng) => shift(img, s, 0, Math.round(sign(rng) * mag * 0.045 * s)),
  // timm enhance: factor 1 ± 0.09·m
  brightness: (img, _s, mag, rng) => {
    const f = 1 + sign(rng) * mag * 0.09;
    for (let i = 0; i < img.length; i++) img[i] = clamp01(img[i] * f);
  },
  contrast: (img, _s, mag, rng) => {
    const f = 1 + sign(rng) * mag * 0.09;
    let mean = 0;
    for (let i = 0; i < img.length; i++) mean += img[i];
    mean /= img.length;
    for (let i = 0; i < img.length; i++) img[i] = clamp01(mean + (img[i] - mean) * f);
  },
};
export const RAND_AUGMENT_OPS = Object.keys(ops);

const sign = (rng: Rng) => (rng.random() < 0.5 ? -1 : 1);
const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

function shift(img: Float32Array, s: number, dx: number, dy: number): void {
  const src = img.slice();
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const sx = x - dx;
      const sy = y - dy;
      const o = (y * s + x) * 3;
      const inside = sx >= 0 && sx < s && sy >= 0 && sy < s;
      for (let c = 0; c < 3; c++) img[o + c] = inside ? src[(sy * s + sx) * 3 + c] : 0.5;
    }
  }
}

/** In place on a [s, s, 3] image with values in 0..1. */
export function randAugmentLite(img: Float32Array, s: number, cfg: RandAugmentConfig, rng: Rng): void {
  for (let k = 0; k < cfg.n; k++) {
    const name = RAND_AUGMENT_OPS[rng.int(0, RAND_AUGMENT_OPS.length)];
    const mag = Math.min(10, Math.max(0, cfg.m + (cfg.mstd > 0 ? cfg.mstd * rng.normal() : 0)));
    ops[name](img, s, mag, rng);
  }
}

/**
 * timm RandomErasing (mode 'pixel', one box): with probability p, a box of area 2%–1/3 of the
 * image, log-uniform aspect 0.3–3.3, filled with N(0, 1) noise. In place on normalized values.
 */
export function randomErase(img: Float32Array, s: number, p: number, rng: Rng): boolean {
  if (p <= 0 || rng.random() >= p) return false;
  const area = s * s;
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = rng.uniform(0.02, 1 / 3) * area;
    const aspect = rng.logUniform(0.3, 1 / 0.3);
    const h = Math.round(Math.sqrt(target * aspect));
    const w = Math.round(Math.sqrt(target / aspect));
    if (w < s && h < s && w > 0 && h > 0) {
      const top = rng.int(0, s - h + 1);
      const left = rng.int(0, s - w + 1);
      for (let y = top; y < top + h; y++)
        for (let x = left; x < left + w; x++) for (let c = 0; c < 3; c++) img[(y * s + x) * 3 + c] = rng.normal();
      return true;
    }
  }
  return false;
}

/** Gamma(a, 1) by Marsaglia–Tsang (a < 1 via the a + 1 boost). */
export function sampleGamma(a: number, rng: Rng): number {
  if (a < 1) return sampleGamma(a + 1, rng) * rng.random() ** (1 / a);
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.random();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(a: number, b: number, rng: Rng): number {
  const x = sampleGamma(a, rng);
  const y = sampleGamma(b, rng);
  return x / (x + y);
}

export interface MixConfig {
  /** mixup α (0 = off) */
  mixup: number;
  /** cutmix α (0 = off) */
  cutmix: number;
  /** probability of mixing a batch at all (timm mixup_prob) */
  prob: number;
  /** with both on: probability of cutmix instead of mixup (timm switch_prob) */
  switchProb: number;
}

export interface MixResult {
  kind: 'none' | 'mixup' | 'cutmix';
  /** weight of each sample's own label */
  lam: number;
}

/**
 * In place on a batch [B, s, s, 3] (normalized). Sample i is mixed with sample B − 1 − i, as
 * timm's `x.flip(0)`. The cutmix box: side ratio √(1 − λ), uniform centre, clipped; λ then set to
 * 1 − box area / image area.
 */
export function mixupCutmix(batch: Float32Array, b: number, s: number, cfg: MixConfig, rng: Rng): MixResult {
  const on = cfg.mixup > 0 || cfg.cutmix > 0;
  if (!on || rng.random() >= cfg.prob) return { kind: 'none', lam: 1 };
  const useCutmix = cfg.cutmix > 0 && (cfg.mixup <= 0 || rng.random() < cfg.switchProb);
  const per = s * s * 3;
  const src = batch.slice();
  if (!useCutmix) {
    const lam = sampleBeta(cfg.mixup, cfg.mixup, rng);
    for (let i = 0; i < b; i++) {
      const o = i * per;
      const f = (b - 1 - i) * per;
      for (let k = 0; k < per; k++) batch[o + k] = lam * src[o + k] + (1 - lam) * src[f + k];
    }
    return { kind: 'mixup', lam };
  }
  const lam0 = sampleBeta(cfg.cutmix, cfg.cutmix, rng);
  const cut = Math.sqrt(1 - lam0);
  const ch = Math.floor(s * cut);
  const cw = Math.floor(s * cut);
  const cy = rng.int(0, s);
  const cx = rng.int(0, s);
  const y0 = Math.max(cy - (ch >> 1), 0);
  const y1 = Math.min(cy + (ch >> 1), s);
  const x0 = Math.max(cx - (cw >> 1), 0);
  const x1 = Math.min(cx + (cw >> 1), s);
  for (let i = 0; i < b; i++) {
    const o = i * per;
    const f = (b - 1 - i) * per;
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) for (let c = 0; c < 3; c++) batch[o + (y * s + x) * 3 + c] = src[f + (y * s + x) * 3 + c];
  }
  return { kind: 'cutmix', lam: 1 - ((y1 - y0) * (x1 - x0)) / (s * s) };
}

/**
 * [B, K] targets: λ·smooth(onehot(yᵢ)) + (1 − λ)·smooth(onehot(y_{B−1−i})), smooth(t) =
 * t·(1 − ε) + ε/K (timm mixup_target: off = ε/K, on = 1 − ε + ε/K). Rows sum to 1.
 */
export function softTargets(labels: ArrayLike<number>, k: number, smoothing: number, lam: number): Float32Array {
  const b = labels.length;
  const off = smoothing / k;
  const on = 1 - smoothing + off;
  const out = new Float32Array(b * k);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < k; j++) out[i * k + j] = off;
    out[i * k + labels[i]] += lam * (on - off);
    out[i * k + labels[b - 1 - i]] += (1 - lam) * (on - off);
  }
  return out;
}
