export type { RgbImage, SamplerConfig, CimSample, CimBatch } from './types.ts';
export { officialSamplerConfig, smallSamplerConfig, samplerConfig, validateSamplerConfig } from './config.ts';
export { sampleCim, type SampleOptions, type CimSampleDebug, type CimSampleWithDebug, type ExemplarDebug } from './sampler.ts';
export { collate } from './collate.ts';
export { randomResizedCropBox, type CropBox } from './crop-box.ts';
export {
  drawExemplarGeometry,
  fitRotatedExemplar,
  exemplarCorners,
  cropRotatedExemplar,
  rasterizeExemplarMask,
  type ExemplarGeometry,
} from './rotate.ts';
export {
  resizeBicubicInto,
  resizeBicubicFloat,
  resizeBicubicRgb,
  bicubicKernel,
  bicubicResampleTable,
  sampleBilinear,
  sampleBicubic,
  type ImageRgb,
  type Box,
  type ResizeOptions,
} from './resize.ts';
export {
  augmentExemplar,
  officialExemplarAugment,
  flipHorizontal,
  type ExemplarAugmentParams,
  type ExemplarAugmentRecord,
} from './augment.ts';
export { normalizeRgb, denormalizeToRgb, IMAGENET_MEAN, IMAGENET_STD } from './normalize.ts';
export { noiseImage, smoothTestImage } from './test-images.ts';
