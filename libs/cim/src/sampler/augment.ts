/**
 * Exemplar-only augmentations of the official CIM pre-training (`tools/main_pretrain.py`, "common"
 * then "template" transforms), on a float [S, S, 3] image in 0..255, in place:
 *   RandomApply(ColorJitter(0.4, 0.4, 0.2, 0.1), p=0.8), RandomGrayscale(p=0.2),
 *   RandomApply(GaussianBlur([0.1, 2.0]), p=0.5), RandomApply(Solarization(), p=0.2),
 *   RandomHorizontalFlip(p=0.5).
 * Each op follows torchvision's / Pillow's definition for PIL images, clamped to [0, 255] after
 * every op as the 8-bit pipeline clips (but not rounded).
 */
import type { Rng } from '../rng.ts';

export interface ExemplarAugmentParams {
  colorJitterP: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  grayscaleP: number;
  blurP: number;
  blurSigma: readonly [number, number];
  solarizeP: number;
  /** threshold on 0..255: values >= it are inverted (Pillow's ImageOps.solarize default 128) */
  solarizeThreshold: number;
  flipP: number;
}

export const officialExemplarAugment: Readonly<ExemplarAugmentParams> = Object.freeze({
  colorJitterP: 0.8,
  brightness: 0.4,
  contrast: 0.4,
  saturation: 0.2,
  hue: 0.1,
  grayscaleP: 0.2,
  blurP: 0.5,
  blurSigma: [0.1, 2.0] as const,
  solarizeP: 0.2,
  solarizeThreshold: 128,
  flipP: 0.5,
});

/** What was applied, for debugging and visualization. */
export interface ExemplarAugmentRecord {
  /** [brightness, contrast, saturation, hue] factors in the applied order, or null if skipped */
  colorJitter: null | { order: number[]; brightness: number; contrast: number; saturation: number; hue: number };
  grayscale: boolean;
  /** blur sigma in exemplar pixels, or null */
  blurSigma: number | null;
  solarize: boolean;
  flipped: boolean;
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Pillow's ITU-R 601-2 luma (`convert('L')`): L = R·299/1000 + G·587/1000 + B·114/1000. */
function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

/** ImageEnhance.Brightness: blend with black. */
export function adjustBrightness(img: Float32Array, f: number): void {
  for (let i = 0; i < img.length; i++) img[i] = clamp255(img[i] * f);
}

/** ImageEnhance.Contrast: blend with the (rounded) mean luma as a flat grey. */
export function adjustContrast(img: Float32Array, f: number): void {
  let sum = 0;
  for (let i = 0; i < img.length; i += 3) sum += luma(img[i], img[i + 1], img[i + 2]);
  const mean = Math.floor(sum / (img.length / 3) + 0.5);
  for (let i = 0; i < img.length; i++) img[i] = clamp255(mean + f * (img[i] - mean));
}

/** ImageEnhance.Color: blend with the grayscale image. */
export function adjustSaturation(img: Float32Array, f: number): void {
  for (let i = 0; i < img.length; i += 3) {
    const l = luma(img[i], img[i + 1], img[i + 2]);
    img[i] = clamp255(l + f * (img[i] - l));
    img[i + 1] = clamp255(l + f * (img[i + 1] - l));
    img[i + 2] = clamp255(l + f * (img[i + 2] - l));
  }
}

/** torchvision adjust_hue: shift the HSV hue by `shift` turns (in [-0.5, 0.5]). */
export function adjustHue(img: Float32Array, shift: number): void {
  for (let i = 0; i < img.length; i += 3) {
    const r = img[i];
    const g = img[i + 1];
    const b = img[i + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const d = max - min;
    if (d === 0) continue; // grey: hue undefined, unchanged
    let h: number;
    if (max === r) h = (g - b) / d;
    else if (max === g) h = 2 + (b - r) / d;
    else h = 4 + (r - g) / d;
    h = h / 6 + shift;
    h -= Math.floor(h);
    // back to RGB with the same value (max) and saturation (d / max)
    const h6 = h * 6;
    const sector = Math.floor(h6) % 6;
    const fr = h6 - Math.floor(h6);
    const p = min;
    const q = max - d * fr;
    const t = min + d * fr;
    let R = max;
    let G = t;
    let B = p;
    switch (sector) {
      case 0:
        R = max;
        G = t;
        B = p;
        break;
      case 1:
        R = q;
        G = max;
        B = p;
        break;
      case 2:
        R = p;
        G = max;
        B = t;
        break;
      case 3:
        R = p;
        G = q;
        B = max;
        break;
      case 4:
        R = t;
        G = p;
        B = max;
        break;
      case 5:
        R = max;
        G = p;
        B = q;
        break;
    }
    img[i] = R;
    img[i + 1] = G;
    img[i + 2] = B;
  }
}

/** RandomGrayscale: luma replicated to three channels. */
export function toGrayscale(img: Float32Array): void {
  for (let i = 0; i < img.length; i += 3) {
    const l = luma(img[i], img[i + 1], img[i + 2]);
    img[i] = l;
    img[i + 1] = l;
    img[i + 2] = l;
  }
}

let blurTmp = new Float32Array(0);

/**
 * Separable Gaussian blur (standard deviation `sigma` px; Pillow's GaussianBlur(radius=sigma)
 * approximates the same Gaussian with box blurs), edge pixels extended. Kernel radius ceil(3σ),
 * capped at size − 1 so that the kernel never exceeds the exemplar.
 */
export function gaussianBlur(img: Float32Array, size: number, sigma: number): void {
  const radius = Math.min(Math.ceil(3 * sigma), size - 1);
  if (radius < 1) return;
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  if (blurTmp.length < img.length) blurTmp = new Float32Array(img.length);
  const tmp = blurTmp;
  const m = size - 1;
  for (let y = 0; y < size; y++) {
    const row = y * size;
    for (let x = 0; x < size; x++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      for (let t = -radius; t <= radius; t++) {
        const xx = x + t;
        const p = (row + (xx < 0 ? 0 : xx > m ? m : xx)) * 3;
        const w = k[t + radius];
        s0 += w * img[p];
        s1 += w * img[p + 1];
        s2 += w * img[p + 2];
      }
      const o = (row + x) * 3;
      tmp[o] = s0;
      tmp[o + 1] = s1;
      tmp[o + 2] = s2;
    }
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      for (let t = -radius; t <= radius; t++) {
        const yy = y + t;
        const p = ((yy < 0 ? 0 : yy > m ? m : yy) * size + x) * 3;
        const w = k[t + radius];
        s0 += w * tmp[p];
        s1 += w * tmp[p + 1];
        s2 += w * tmp[p + 2];
      }
      const o = (y * size + x) * 3;
      img[o] = s0;
      img[o + 1] = s1;
      img[o + 2] = s2;
    }
  }
}

/** ImageOps.solarize: values >= threshold become 255 − v. */
export function solarize(img: Float32Array, threshold = 128): void {
  for (let i = 0; i < img.length; i++) if (img[i] >= threshold) img[i] = 255 - img[i];
}

/** Mirrors a [height, width, 3] image left-right in place. */
export function flipHorizontal(img: Float32Array | Uint8Array, width: number, height: number): void {
  for (let y = 0; y < height; y++) {
    let a = y * width * 3;
    let b = a + (width - 1) * 3;
    for (; a < b; a += 3, b -= 3) {
      for (let c = 0; c < 3; c++) {
        const t = img[a + c];
        img[a + c] = img[b + c];
        img[b + c] = t;
      }
    }
  }
}

/**
 * Applies the exemplar augmentations to a [size, size, 3] float image (0..255) in place, all
 * draws from `rng`. The draw sequence is fixed given the outcomes (torchvision's order: the
 * jitter's permutation, then its four factors).
 */
export function augmentExemplar(
  img: Float32Array,
  size: number,
  rng: Rng,
  p: Readonly<ExemplarAugmentParams> = officialExemplarAugment,
): ExemplarAugmentRecord {
  const rec: ExemplarAugmentRecord = { colorJitter: null, grayscale: false, blurSigma: null, solarize: false, flipped: false };
  if (rng.random() < p.colorJitterP) {
    const order = rng.shuffle([0, 1, 2, 3]) as number[];
    const brightness = rng.uniform(1 - p.brightness, 1 + p.brightness);
    const contrast = rng.uniform(1 - p.contrast, 1 + p.contrast);
    const saturation = rng.uniform(1 - p.saturation, 1 + p.saturation);
    const hue = rng.uniform(-p.hue, p.hue);
    for (const op of order) {
      if (op === 0) adjustBrightness(img, brightness);
      else if (op === 1) adjustContrast(img, contrast);
      else if (op === 2) adjustSaturation(img, saturation);
      else adjustHue(img, hue);
    }
    rec.colorJitter = { order, brightness, contrast, saturation, hue };
  }
  if (rng.random() < p.grayscaleP) {
    toGrayscale(img);
    rec.grayscale = true;
  }
  if (rng.random() < p.blurP) {
    const sigma = rng.uniform(p.blurSigma[0], p.blurSigma[1]);
    gaussianBlur(img, size, sigma);
    rec.blurSigma = sigma;
  }
  if (rng.random() < p.solarizeP) {
    solarize(img, p.solarizeThreshold);
    rec.solarize = true;
  }
  if (rng.random() < p.flipP) {
    flipHorizontal(img, size, size);
    rec.flipped = true;
  }
  return rec;
}
