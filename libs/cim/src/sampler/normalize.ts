/**
 * ImageNet normalization of channels-last RGB (timm IMAGENET_DEFAULT_MEAN / _STD, on 0..1 values,
 * as torchvision `ToTensor()` then `Normalize(mean, std)`).
 */

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * out[i] = (src[i] / valueMax − mean[c]) / std[c], c = i mod 3. `valueMax` is the value that
 * means 1.0: 255 for 8-bit data (default), 1 for data already in 0..1. `out` may be `src` itself
 * when it is a Float32Array. Returns `out`.
 */
export function normalizeRgb(src: ArrayLike<number>, out: Float32Array = new Float32Array(src.length), valueMax = 255): Float32Array {
  if (src.length % 3 !== 0) throw new Error(`normalizeRgb: length ${src.length} is not a multiple of 3`);
  const s0 = 1 / (valueMax * IMAGENET_STD[0]);
  const s1 = 1 / (valueMax * IMAGENET_STD[1]);
  const s2 = 1 / (valueMax * IMAGENET_STD[2]);
  const b0 = -IMAGENET_MEAN[0] / IMAGENET_STD[0];
  const b1 = -IMAGENET_MEAN[1] / IMAGENET_STD[1];
  const b2 = -IMAGENET_MEAN[2] / IMAGENET_STD[2];
  for (let i = 0; i < src.length; i += 3) {
    out[i] = src[i] * s0 + b0;
    out[i + 1] = src[i + 1] * s1 + b1;
    out[i + 2] = src[i + 2] * s2 + b2;
  }
  return out;
}

/** Inverse of `normalizeRgb` to 8-bit RGB (rounded, clamped to [0, 255]), for visualization. */
export function denormalizeToRgb(normalized: ArrayLike<number>, out = new Uint8Array(normalized.length)): Uint8Array {
  if (normalized.length % 3 !== 0) throw new Error(`denormalizeToRgb: length ${normalized.length} is not a multiple of 3`);
  for (let i = 0; i < normalized.length; i++) {
    const c = i % 3;
    const v = Math.round((normalized[i] * IMAGENET_STD[c] + IMAGENET_MEAN[c]) * 255);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}
