/**
 * A validation split carved from the labelled training set (the paper-protocol rule: recipes are
 * tuned on it, never on the test split). Per class, round(fraction × its count) images (at least
 * one) go to validation, chosen by a seeded shuffle of that class's indices; the rest stay for
 * training. Both parts keep the original order. The split depends on (labels, fraction, seed) only.
 */
import { deriveSeed, Rng } from '@cim-forge/cim';
import type { LabelledImages } from './labelled-data.ts';

/** Indices of the validation and the remaining training images, each sorted. */
export function validationIndices(labels: ArrayLike<number>, fraction: number, seed: number): { train: number[]; val: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`validation fraction must be in (0, 1), got ${fraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    if (!byClass.has(labels[i])) byClass.set(labels[i], []);
    byClass.get(labels[i])!.push(i);
  }
  const isVal = new Uint8Array(labels.length);
  for (const [c, idx] of byClass) {
    const rng = new Rng(deriveSeed(seed, c, 0x7a1));
    rng.shuffle(idx);
    for (const i of idx.slice(0, Math.max(1, Math.round(fraction * idx.length)))) isVal[i] = 1;
  }
  const train: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < labels.length; i++) (isVal[i] ? val : train).push(i);
  return { train, val };
}

/** The images at `indices`, a new LabelledImages (pixels copied). */
export function subsetImages(data: LabelledImages, indices: number[], name = data.name): LabelledImages {
  const per = data.side * data.side * 3;
  const pixels = new Uint8Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  indices.forEach((src, k) => {
    pixels.set(data.pixels.subarray(src * per, (src + 1) * per), k * per);
    labels[k] = data.labels[src];
  });
  return { ...data, name, size: indices.length, pixels, labels };
}

/** Split labelled training images into train and validation parts (see validationIndices). */
export function splitValidation(data: LabelledImages, fraction: number, seed: number): { train: LabelledImages; val: LabelledImages } {
  const { train, val } = validationIndices(data.labels, fraction, seed);
  return {
    train: subsetImages(data, train, `${data.name} (train minus validation)`),
    val: subsetImages(data, val, `${data.name} (validation ${fraction})`),
  };
}
