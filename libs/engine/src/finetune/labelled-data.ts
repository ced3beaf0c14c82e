/**
 * Labelled images for fine-tuning and probing, held in memory at the model's resolution as 8-bit
 * RGB (Fashion-MNIST's 60k train images at 32 px: 184 MB). Each image is resized once with the
 * sampler's bicubic (Pillow's) and normalized per batch, after augmentation. The order of an
 * epoch is a function of (seed, epoch) only, so a step number fixes its batch: exact resume needs
 * no loader state.
 */
import { deriveSeed, normalizeRgb, resizeBicubicRgb, Rng } from '@cim-forge/cim';
import { openSource, type SourceSpec } from '@cim-forge/data';

export interface LabelledImages {
  name: string;
  size: number;
  /** pixels per side */
  side: number;
  numClasses: number;
  classNames?: string[];
  /** [size, side, side, 3] uint8 */
  pixels: Uint8Array;
  labels: Int32Array;
}

export async function loadLabelledImages(spec: SourceSpec, side: number): Promise<LabelledImages> {
  const src = await openSource(spec);
  if (!src.label)
    throw new Error(
      `${src.name} has no labels: fine-tuning and probing need a labelled data set (fashion-mnist, or an image folder with class subfolders)`,
    );
  const per = side * side * 3;
  const pixels = new Uint8Array(src.size * per);
  const labels = new Int32Array(src.size);
  let maxLabel = 0;
  for (let i = 0; i < src.size; i++) {
    const img = await src.get(i);
    const r = img.width === side && img.height === side ? img.data : resizeBicubicRgb(img, side, side).data;
    pixels.set(r, i * per);
    labels[i] = src.label(i);
    maxLabel = Math.max(maxLabel, labels[i]);
  }
  return { name: src.name, size: src.size, side, numClasses: src.numClasses ?? maxLabel + 1, classNames: src.classNames, pixels, labels };
}

/**
 * A stratified subset: per class, round(fraction × its count) images (at least 1), chosen by a
 * seeded shuffle of that class's indices; returned sorted. fraction 1 = every index.
 */
export function stratifiedSubset(labels: ArrayLike<number>, fraction: number, seed: number): number[] {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`labelsFraction must be in (0, 1], got ${fraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!byClass.has(c)) byClass.set(c, []);
    byClass.get(c)!.push(i);
  }
  if (fraction === 1) return Array.from({ length: labels.length }, (_, i) => i);
  const out: number[] = [];
  for (const [c, idx] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const rng = new Rng(deriveSeed(seed, c, 0x5eed));
    rng.shuffle(idx);
    out.push(...idx.slice(0, Math.max(1, Math.round(fraction * idx.length))));
  }
  return out.sort((a, b) => a - b);
}

/** Positions into `indices` for epoch `epoch`: a seeded permutation. */
export function epochPermutationOf(n: number, seed: number, epoch: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  new Rng(deriveSeed(seed, epoch, 0xe90c)).shuffle(p);
  return p;
}

/** One image as 0..1 floats [side, side, 3]. */
export function imageAsUnit(data: LabelledImages, index: number): Float32Array {
  const per = data.side * data.side * 3;
  const out = new Float32Array(per);
  const o = index * per;
  for (let k = 0; k < per; k++) out[k] = data.pixels[o + k] / 255;
  return out;
}

/** A batch of images, ImageNet-normalized, no augmentation: [B·side·side·3]. */
export function plainBatch(data: LabelledImages, indices: ArrayLike<number>): Float32Array {
  const per = data.side * data.side * 3;
  const out = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++)
    normalizeRgb(data.pixels.subarray(indices[i] * per, (indices[i] + 1) * per), out.subarray(i * per, (i + 1) * per));
  return out;
}
