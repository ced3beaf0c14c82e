/** Fine-tuning and linear probing on labelled images (issue 7, parts 1 and 2). */
export * from './finetune.ts';
export * from './finetune-checkpoint.ts';
export * from './linear-probe.ts';
export { LayerwiseAdamW, type ScaledParam } from './layerwise-adamw.ts';
export { loadLabelledImages, stratifiedSubset, epochPermutationOf, plainBatch, type LabelledImages } from './labelled-data.ts';
export {
  randAugmentLite,
  randomErase,
  mixupCutmix,
  softTargets,
  sampleBeta,
  sampleGamma,
  RAND_AUGMENT_OPS,
  type MixConfig,
  type MixResult,
} from './augment.ts';
export { validationIndices, subsetImages, splitValidation } from './validation-split.ts';
export { knnPredict, knnTop1, defaultKnn, type KnnOptions } from './knn.ts';
export { featureStatistics, symmetricEigenvalues, type FeatureStatistics } from './feature-statistics.ts';
