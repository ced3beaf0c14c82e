/**
 * Common corruptions at severities 1–5, after Hendrycks & Dietterich (ICLR 2019, "Benchmarking
 * neural network robustness to common corruptions and perturbations"), with the CIFAR-10-C
 * parameters (`make_cifar_c.py`): our evaluation images are small (32 px), and ImageNet-C's
 * parameters (tuned for 224 px) would blur or pixelate them beyond recognition.
 *
 * Images are channels-last RGB [H, W, 3], uint8 (0..255) or float (0..1) in, float 0..1 out
 * (clipped to [0, 1]). Random corruptions draw from a seeded Rng: same seed, same output.
 * The JPEG-like corruption is a deterministic in-process codec: RGB → YCbCr (JFIF), 8×8 block
 * DCT-II, quantization by the IJG tables scaled for the quality, inverse, 8-bit rounding; no
 * chroma subsampling and no entropy coding (lossless, so irrelevant to the pixels).
 */
import { CORRUPTION_NAMES } from '@cim-forge/config';
import { deriveSeed, Rng } from '@cim-forge/cim';

/** the list lives in libs/config so the API validates eval runs without tfjs */
export const CORRUPTIONS = CORRUPTION_NAMES;
export type CorruptionName = (typeof CORRUPTIONS)[number];

/** Per corruption, its parameter at severities 1..5 (CIFAR-10-C, make_cifar_c.py). */
export const CORRUPTION_PARAMS: Record<CorruptionName, readonly number[]> = {
  /** σ of additive N(0, σ²) noise, pixel units */
  gaussian_noise: [0.04, 0.06, 0.08, 0.09, 0.1],
  /** photons per unit intensity: x' = Poisson(x·c) / c */
  shot_noise: [500, 250, 100, 75, 50],
  /** σ of the Gaussian blur, pixels */
  gaussian_blur: [0.4, 0.6, 0.7, 0.8, 1],
  /** x' = (x − mean_channel)·c + mean_channel */
  contrast: [0.75, 0.5, 0.4, 0.3, 0.15],
  /** added to HSV value (hue and saturation kept) */
  brightness: [0.05, 0.1, 0.15, 0.2, 0.3],
  /** JPEG quality (IJG scale 1..100) */
  jpeg: [80, 65, 58, 50, 40],
  /** box-downsample to side·c, then back up (nearest), as PIL BOX resizes */
  pixelate: [0.95, 0.9, 0.85, 0.75, 0.65],
};

export function isCorruption(name: string): name is CorruptionName {
  return (CORRUPTIONS as readonly string[]).includes(name);
}

function checkSeverity(s: number): void {
  if (!(Number.isInteger(s) && s >= 1 && s <= 5)) throw new Error(`corruption severity must be an integer 1..5, got ${s}`);
}

/** 0..1 floats of uint8 or float pixels. */
export function toUnit(img: Uint8Array | Float32Array): Float32Array {
  if (img instanceof Float32Array) return Float32Array.from(img);
  const out = new Float32Array(img.length);
  for (let i = 0; i < img.length; i++) out[i] = img[i] / 255;
  return out;
}

const clip01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * One image [h, w, 3] corrupted at `severity` (1..5): float 0..1 [h, w, 3]. `seed` fixes the noise.
 */
export function corrupt(
  name: CorruptionName,
  img: Uint8Array | Float32Array,
  h: number,
  w: number,
  severity: number,
  seed = 0,
): Float32Array {
  checkSeverity(severity);
  if (img.length !== h * w * 3) throw new Error(`corrupt: image has ${img.length} values, expected ${h}×${w}×3`);
  const c = CORRUPTION_PARAMS[name][severity - 1];
  const x = toUnit(img);
  switch (name) {
    case 'gaussian_noise': {
      const rng = new Rng(seed);
      for (let i = 0; i < x.length; i++) x[i] = clip01(x[i] + c * rng.normal());
      return x;
    }
    case 'shot_noise': {
      const rng = new Rng(seed);
      for (let i = 0; i < x.length; i++) x[i] = clip01(poisson(rng, x[i] * c) / c);
      return x;
    }
    case 'gaussian_blur':
      return gaussianBlur(x, h, w, c);
    case 'contrast': {
      const mean = [0, 1, 2].map((ch) => {
        let s = 0;
        for (let i = ch; i < x.length; i += 3) s += x[i];
        return s / (h * w);
      });
      for (let i = 0; i < x.length; i++) x[i] = clip01((x[i] - mean[i % 3]) * c + mean[i % 3]);
      return x;
    }
    case 'brightness':
      // HSV: V = max(r, g, b); V' = clip(V + c). Scaling RGB by V'/V keeps H and S; black becomes grey V'.
      for (let i = 0; i < x.length; i += 3) {
        const v = Math.max(x[i], x[i + 1], x[i + 2]);
        const v2 = clip01(v + c);
        if (v === 0) x[i] = x[i + 1] = x[i + 2] = v2;
        else for (let k = 0; k < 3; k++) x[i + k] = clip01((x[i + k] * v2) / v);
      }
      return x;
    case 'jpeg':
      return jpegLike(x, h, w, c);
    case 'pixelate':
      return pixelate(x, h, w, c);
  }
}

/**
 * Every image of a batch [n, h, w, 3]; image i's noise seeded by (seed, firstIndex + i, severity,
 * corruption), so an image gets the same noise whatever batch it falls in.
 */
export function corruptBatch(
  name: CorruptionName,
  pixels: Uint8Array | Float32Array,
  n: number,
  h: number,
  w: number,
  severity: number,
  seed = 0,
  firstIndex = 0,
): Float32Array {
  const per = h * w * 3;
  const out = new Float32Array(n * per);
  const tag = CORRUPTIONS.indexOf(name);
  for (let i = 0; i < n; i++)
    out.set(
      corrupt(name, pixels.subarray(i * per, (i + 1) * per), h, w, severity, deriveSeed(seed, firstIndex + i, severity, tag, 0xc0)),
      i * per,
    );
  return out;
}

/** Peak signal-to-noise ratio of b against a, both 0..1 floats, dB (Infinity when equal). */
export function psnr(a: Float32Array, b: Float32Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10(a.length / se);
}

/** Poisson(λ) by Knuth's product of uniforms (λ ≤ 30), else the rounded normal approximation. */
function poisson(rng: Rng, lambda: number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * rng.normal()));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = rng.random();
  while (p > l) {
    k++;
    p *= rng.random();
  }
  return k;
}

/** Separable Gaussian blur, kernel truncated at 4σ (scipy's default), edges clamped ('nearest'). */
function gaussianBlur(x: Float32Array, h: number, w: number, sigma: number): Float32Array {
  const r = Math.ceil(4 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const tmp = new Float32Array(x.length);
  const out = new Float32Array(x.length);
  const clampI = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      for (let ch = 0; ch < 3; ch++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += k[d + r] * x[(y * w + clampI(xx + d, w)) * 3 + ch];
        tmp[(y * w + xx) * 3 + ch] = s;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      for (let ch = 0; ch < 3; ch++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += k[d + r] * tmp[(clampI(y + d, h) * w + xx) * 3 + ch];
        out[(y * w + xx) * 3 + ch] = clip01(s);
      }
    }
  }
  return out;
}

/** Box-average down to round(side·c) (PIL's BOX filter, area weights), then nearest back up. */
function pixelate(x: Float32Array, h: number, w: number, c: number): Float32Array {
  const h2 = Math.max(1, Math.floor(h * c));
  const w2 = Math.max(1, Math.floor(w * c));
  const small = new Float32Array(h2 * w2 * 3);
  // area-weighted box: output cell (i, j) covers [i·h/h2, (i+1)·h/h2) × [j·w/w2, (j+1)·w/w2)
  const overlap = (a0: number, a1: number, p: number) => Math.max(0, Math.min(a1, p + 1) - Math.max(a0, p));
  for (let i = 0; i < h2; i++) {
    const y0 = (i * h) / h2;
    const y1 = ((i + 1) * h) / h2;
    for (let j = 0; j < w2; j++) {
      const x0 = (j * w) / w2;
      const x1 = ((j + 1) * w) / w2;
      const acc = [0, 0, 0];
      let area = 0;
      for (let py = Math.floor(y0); py < Math.ceil(y1); py++) {
        const oy = overlap(y0, y1, py);
        for (let px = Math.floor(x0); px < Math.ceil(x1); px++) {
          const a = oy * overlap(x0, x1, px);
          area += a;
          for (let ch = 0; ch < 3; ch++) acc[ch] += a * x[(py * w + px) * 3 + ch];
        }
      }
      for (let ch = 0; ch < 3; ch++) small[(i * w2 + j) * 3 + ch] = acc[ch] / area;
    }
  }
  const out = new Float32Array(x.length);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(h2 - 1, Math.floor(((y + 0.5) * h2) / h));
    for (let xx = 0; xx < w; xx++) {
      const sx = Math.min(w2 - 1, Math.floor(((xx + 0.5) * w2) / w));
      for (let ch = 0; ch < 3; ch++) out[(y * w + xx) * 3 + ch] = small[(sy * w2 + sx) * 3 + ch];
    }
  }
  return out;
}

// IJG standard quantization tables (ITU-T T.81, Annex K), row-major.
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22,
  37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** The IJG table for `quality` (libjpeg's jpeg_quality_scaling), entries clamped to 1..255. */
export function jpegQuantTable(base: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return base.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

// DCT-II basis: C[u][x] = a(u) cos((2x + 1)uπ / 16), a(0) = √(1/8), a(u>0) = √(2/8): orthonormal.
const DCT = Array.from({ length: 8 }, (_, u) =>
  Array.from({ length: 8 }, (_, x) => (u === 0 ? Math.sqrt(1 / 8) : Math.sqrt(2 / 8)) * Math.cos(((2 * x + 1) * u * Math.PI) / 16)),
);

/** JPEG-like round trip at `quality` on 0..1 RGB: YCbCr, level shift, 8×8 DCT, quantize, inverse, 8-bit. */
function jpegLike(x: Float32Array, h: number, w: number, quality: number): Float32Array {
  const tables = [jpegQuantTable(LUMA_Q, quality), jpegQuantTable(CHROMA_Q, quality), jpegQuantTable(CHROMA_Q, quality)];
  const H = Math.ceil(h / 8) * 8;
  const W = Math.ceil(w / 8) * 8;
  // YCbCr planes (JFIF), 0..255, padded by edge replication to multiples of 8
  const planes = [new Float64Array(H * W), new Float64Array(H * W), new Float64Array(H * W)];
  for (let y = 0; y < H; y++) {
    for (let xx = 0; xx < W; xx++) {
      const o = (Math.min(y, h - 1) * w + Math.min(xx, w - 1)) * 3;
      const r = Math.round(x[o] * 255);
      const g = Math.round(x[o + 1] * 255);
      const b = Math.round(x[o + 2] * 255);
      const p = y * W + xx;
      planes[0][p] = 0.299 * r + 0.587 * g + 0.114 * b;
      planes[1][p] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
      planes[2][p] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
    }
  }
  const blk = new Float64Array(64);
  const tmp = new Float64Array(64);
  for (let ch = 0; ch < 3; ch++) {
    const P = planes[ch];
    const Q = tables[ch];
    for (let by = 0; by < H; by += 8) {
      for (let bx = 0; bx < W; bx += 8) {
        for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) blk[i * 8 + j] = P[(by + i) * W + bx + j] - 128;
        // forward: F = C · B · Cᵀ
        for (let u = 0; u < 8; u++)
          for (let j = 0; j < 8; j++) {
            let s = 0;
            for (let i = 0; i < 8; i++) s += DCT[u][i] * blk[i * 8 + j];
            tmp[u * 8 + j] = s;
          }
        for (let u = 0; u < 8; u++)
          for (let v = 0; v < 8; v++) {
            let s = 0;
            for (let j = 0; j < 8; j++) s += tmp[u * 8 + j] * DCT[v][j];
            blk[u * 8 + v] = Math.round(s / Q[u * 8 + v]) * Q[u * 8 + v];
          }
        // inverse: B = Cᵀ · F · C
        for (let i = 0; i < 8; i++)
          for (let v = 0; v < 8; v++) {
            let s = 0;
            for (let u = 0; u < 8; u++) s += DCT[u][i] * blk[u * 8 + v];
            tmp[i * 8 + v] = s;
          }
        for (let i = 0; i < 8; i++)
          for (let j = 0; j < 8; j++) {
            let s = 0;
            for (let v = 0; v < 8; v++) s += tmp[i * 8 + v] * DCT[v][j];
            P[(by + i) * W + bx + j] = s + 128;
          }
      }
    }
  }
  const out = new Float32Array(x.length);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      const p = y * W + xx;
      const Y = planes[0][p];
      const cb = planes[1][p] - 128;
      const cr = planes[2][p] - 128;
      const rgb = [Y + 1.402 * cr, Y - 0.344136 * cb - 0.714136 * cr, Y + 1.772 * cb];
      for (let k = 0; k < 3; k++) out[(y * w + xx) * 3 + k] = Math.min(255, Math.max(0, Math.round(rgb[k]))) / 255;
    }
  }
  return out;
}

/** Top-1 error per corruption and severity: { corruption: { severity: error in [0, 1] } }. */
export type CorruptionErrors = Record<string, Record<string, number>>;

export interface MeanCorruptionError {
  /** mean over corruptions of CE_c */
  mCE: number;
  /** 'baseline': CE_c = Σ_s E_{s,c} / Σ_s E^base_{s,c} (Hendrycks & Dietterich, eq. 1; 1 = as robust as the baseline);
   *  'unnormalized': CE_c = (1/S) Σ_s E_{s,c}, the mean top-1 error (no baseline given) */
  normalization: 'baseline' | 'unnormalized';
  /** CE_c per corruption */
  perCorruption: Record<string, number>;
}

/**
 * mCE of Hendrycks & Dietterich: per corruption the error summed over severities, divided by the
 * baseline's (AlexNet in the paper) over the same severities; then the mean over corruptions.
 * Without a baseline: the unnormalized mean top-1 error over severities and corruptions.
 */
export function meanCorruptionError(errors: CorruptionErrors, baseline?: CorruptionErrors): MeanCorruptionError {
  const names = Object.keys(errors);
  if (names.length === 0) throw new Error('meanCorruptionError: no corruptions');
  const perCorruption: Record<string, number> = {};
  for (const c of names) {
    const sev = Object.keys(errors[c]);
    if (sev.length === 0) throw new Error(`meanCorruptionError: ${c} has no severities`);
    const sum = sev.reduce((a, s) => a + errors[c][s], 0);
    if (baseline) {
      const b = baseline[c];
      if (!b || sev.some((s) => b[s] === undefined))
        throw new Error(`meanCorruptionError: the baseline lacks ${c} at severities ${sev.join(',')}`);
      const bs = sev.reduce((a, s) => a + b[s], 0);
      if (!(bs > 0)) throw new Error(`meanCorruptionError: the baseline's error on ${c} is 0; cannot normalize`);
      perCorruption[c] = sum / bs;
    } else {
      perCorruption[c] = sum / sev.length;
    }
  }
  const mCE = names.reduce((a, c) => a + perCorruption[c], 0) / names.length;
  return { mCE, normalization: baseline ? 'baseline' : 'unnormalized', perCorruption };
}
