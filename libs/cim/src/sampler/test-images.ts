/**
 * Synthetic test and benchmark images: smooth, asymmetric (so flips and transposes change them),
 * and bounded away from black.
 */
import type { RgbImage } from './types.ts';

/**
 * R: left-to-right ramp, G: top-to-bottom ramp (different ranges), B: a few Gaussian blobs placed
 * asymmetrically plus a slow diagonal wave. Every value lies in [lo, 255].
 */
export function smoothTestImage(width: number, height: number, lo = 60): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const span = 255 - lo;
  const blobs = [
    [0.22, 0.3, 0.12],
    [0.7, 0.2, 0.08],
    [0.58, 0.75, 0.15],
    [0.15, 0.8, 0.06],
  ];
  for (let y = 0; y < height; y++) {
    const v = y / (height - 1);
    for (let x = 0; x < width; x++) {
      const u = x / (width - 1);
      let b = 0.25 + 0.15 * Math.sin(2 * Math.PI * (1.3 * u + 0.6 * v));
      for (const [bx, by, r] of blobs) b += 0.6 * Math.exp(-((u - bx) ** 2 + (v - by) ** 2) / (2 * r * r));
      const o = (y * width + x) * 3;
      data[o] = Math.round(lo + span * (0.1 + 0.85 * u * u));
      data[o + 1] = Math.round(lo + span * (0.9 - 0.8 * v));
      data[o + 2] = Math.round(lo + span * Math.min(1, Math.max(0, b)));
    }
  }
  return { width, height, data };
}

/** Uniform noise image (texture-rich, for benchmarks), values 0..255 from a fixed LCG. */
export function noiseImage(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}
