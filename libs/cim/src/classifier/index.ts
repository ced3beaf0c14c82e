export {
  VitClassifier, classifierConfigOf, classifierParamSpecs, dropPathRates,
  type VitClassifierConfig, type StateGetter, type EncoderChoice,
} from './vit-classifier.ts';
export { layerIdOf, layerLrScale } from './layer-decay.ts';
