import type { Rng } from '../rng.ts';

/** An integer axis-aligned box in pixels: columns [x, x + width), rows [y, y + height). */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
  /** true when all 10 tries failed and the centred fallback box was used */
  fallback: boolean;
}

/** Python's round(): half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision `RandomResizedCrop.get_params` (also the official CIM `get_params` for exemplar
 * boxes): area fraction uniform in `scale`, aspect ratio (w / h) log-uniform in `ratio`, up to 10
 * tries for a box that fits; else the largest centred box whose ratio is clamped into `ratio`.
 * Draw order as torchvision: area, ratio, then row offset, then column offset.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): CropBox {
  const area = width * height;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = rng.logUniform(ratio[0], ratio[1]);
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const y = rng.int(0, height - h + 1);
      const x = rng.int(0, width - w + 1);
      return { x, y, width: w, height: h, fallback: false };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) h = roundHalfEven(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = roundHalfEven(h * Math.max(...ratio));
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h, fallback: true };
}
