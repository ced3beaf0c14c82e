/**
 * One CIM training sample from one image (docs/cim-recipe.md, "One training sample"; the official
 * `CorrlationDataset.__getitem__`):
 *   search view  random-resized-crop to S×S (bicubic), horizontal flip p searchFlipP
 *   exemplars    T rotated rectangles of the view (rotate.ts), each resized to E×E
 *   masks        each rectangle rasterized on the C×C context grid
 *   context      the view resized to C×C (bicubic)
 *   augmentation exemplars only (augment.ts); masks are never flipped
 *   normalize    ImageNet mean/std
 * Pure TypeScript on typed arrays; deterministic given the Rng state. All geometry is drawn before
 * any augmentation, so turning `augment` off leaves views, contexts and masks unchanged.
 */
import type { Rng } from '../rng.ts';
import type { CimSample, RgbImage, SamplerConfig } from './types.ts';
import { randomResizedCropBox, type CropBox } from './crop-box.ts';
import { resizeBicubicInto, resizeBicubicRgb } from './resize.ts';
import { cropRotatedExemplar, drawExemplarGeometry, rasterizeExemplarMask, type ExemplarGeometry } from './rotate.ts';
import { augmentExemplar, flipHorizontal, type ExemplarAugmentRecord } from './augment.ts';
import { normalizeRgb } from './normalize.ts';

export { officialSamplerConfig, smallSamplerConfig, samplerConfig, validateSamplerConfig } from './config.ts';
export { collate } from './collate.ts';

export interface SampleOptions {
  /** also return the search view and each exemplar's geometry and augmentations */
  debug?: boolean;
}

export interface ExemplarDebug extends ExemplarGeometry {
  /** the augmentations applied, null when cfg.augment is false */
  augment: ExemplarAugmentRecord | null;
  /** the exemplar image was mirrored (its mask was not) */
  flipped: boolean;
}

export interface CimSampleDebug {
  /** the random-resized-crop box on the source image */
  searchBox: CropBox;
  searchFlipped: boolean;
  /** the S×S search view (after the flip); exemplar geometry is in its pixels */
  searchView: RgbImage;
  exemplars: ExemplarDebug[];
}

export type CimSampleWithDebug = CimSample & { debug: CimSampleDebug };

export function sampleCim(image: RgbImage, cfg: SamplerConfig, rng: Rng, opts: { debug: true }): CimSampleWithDebug;
export function sampleCim(image: RgbImage, cfg: SamplerConfig, rng: Rng, opts?: SampleOptions): CimSample & { debug?: CimSampleDebug };
export function sampleCim(image: RgbImage, cfg: SamplerConfig, rng: Rng, opts: SampleOptions = {}): CimSample & { debug?: CimSampleDebug } {
  const { width, height, data } = image;
  if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
    throw new Error(`sampleCim: image ${width}×${height} needs ${width * height * 3} bytes, got ${data.length}`);
  }
  const S = cfg.searchSize;
  const C = cfg.contextSize;
  const E = cfg.exemplarSize;
  const T = cfg.numExemplars;

  // 1. search view
  const searchBox = randomResizedCropBox(width, height, cfg.searchScale, cfg.searchRatio, rng);
  const b = searchBox;
  const view = resizeBicubicRgb(image, S, S, [b.x, b.y, b.x + b.width, b.y + b.height]);
  const searchFlipped = rng.random() < cfg.searchFlipP;
  if (searchFlipped) flipHorizontal(view.data, S, S);

  // 2. exemplar geometry, all drawn before any augmentation
  const geometry: ExemplarGeometry[] = [];
  for (let t = 0; t < T; t++) geometry.push(drawExemplarGeometry(S, S, cfg, rng));

  // 3. context [C, C, 3]
  const context = new Float32Array(C * C * 3);
  resizeBicubicInto(view, C, C, context, { clamp255: true });
  normalizeRgb(context, context);

  // 4. exemplars [T, E, E, 3] and masks [T, C, C]
  const exemplars = new Float32Array(T * E * E * 3);
  const masks = new Uint8Array(T * C * C);
  const debugExemplars: ExemplarDebug[] = [];
  for (let t = 0; t < T; t++) {
    const g = geometry[t];
    const ex = exemplars.subarray(t * E * E * 3, (t + 1) * E * E * 3);
    cropRotatedExemplar(view, g, E, ex);
    rasterizeExemplarMask(g, S, S, C, masks, t * C * C);
    const rec = cfg.augment ? augmentExemplar(ex, E, rng) : null;
    normalizeRgb(ex, ex);
    if (opts.debug) debugExemplars.push({ ...g, augment: rec, flipped: rec?.flipped ?? false });
  }

  const sample: CimSample & { debug?: CimSampleDebug } = { context, exemplars, masks };
  if (opts.debug) sample.debug = { searchBox, searchFlipped, searchView: view, exemplars: debugExemplars };
  return sample;
}
