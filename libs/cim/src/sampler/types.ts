/** An 8-bit RGB image, row-major, channels last: data[(y * width + x) * 3 + c]. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Everything the crop-and-correlate sampler draws from; defaults in `officialSamplerConfig`. */
export interface SamplerConfig {
  /** side of the search view (official 224) */
  searchSize: number;
  /** side of the context the target encoder sees (official 160) */
  contextSize: number;
  /** side of each exemplar (official 64) */
  exemplarSize: number;
  /** exemplars per image (official 6) */
  numExemplars: number;
  /** random-resized-crop area scale of the search view (official [0.5, 1]) */
  searchScale: [number, number];
  /** its aspect ratio, log-uniform (official [3/4, 4/3]) */
  searchRatio: [number, number];
  /** exemplar box area as a fraction of the search view (official [0.05, 0.48]) */
  exemplarScale: [number, number];
  /** exemplar box aspect ratio, log-uniform (official [1/3, 3]) */
  exemplarRatio: [number, number];
  /** integer rotation angle in degrees, drawn from [lo, hi) (official [-45, 45)) */
  rotation: [number, number];
  /** exemplar-only colour augmentation and flip (official true) */
  augment: boolean;
  /** horizontal flip of the search view, p (official 0.5) */
  searchFlipP: number;
}

/** One sample. Float images are normalized (ImageNet mean/std), channels last. */
export interface CimSample {
  /** [C, C, 3] */
  context: Float32Array;
  /** [T, S, S, 3] */
  exemplars: Float32Array;
  /** [T, C, C], 1 where the exemplar came from */
  masks: Uint8Array;
}

/** A collated batch, template-major so that exemplar t of the whole batch is one slice. */
export interface CimBatch {
  batchSize: number;
  numExemplars: number;
  contextSize: number;
  exemplarSize: number;
  /** [B, C, C, 3] */
  context: Float32Array;
  /** [T, B, S, S, 3] */
  exemplars: Float32Array;
  /** [T, B, C, C] */
  masks: Uint8Array;
}
