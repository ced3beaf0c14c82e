export {
  VitClassifier,
  classifierConfigOf,
  classifierParamSpecs,
  dropPathRates,
  type VitClassifierConfig,
  type StateGetter,
  type EncoderChoice,
} from './vit-classifier.ts';
export { layerIdOf, layerLrScale } from './layer-decay.ts';
export {
  ResnetClassifier,
  resnetClassifierConfigOf,
  resnetStageIdOf,
  resnetLayerLrScale,
  type ResnetClassifierConfig,
} from './resnet-classifier.ts';
export {
  createClassifier,
  defaultClassifierImgSize,
  classifierLrScale,
  classifierFeatureDim,
  classifierFeatures,
  classifierMetadata,
  type ImageClassifier,
} from './image-classifier.ts';
