/**
 * One classifier type for fine-tuning, probing and k-NN, whatever the encoder: a ViT
 * (vit-classifier.ts) or a ResNet (resnet-classifier.ts), built from a CIM model's config. The
 * helpers below are what the engine needs beyond the shared methods (forward, p, specs,
 * trainableNames, loadEncoder, loadStateDict, stateDict, dispose).
 */
import * as tf from '@tensorflow/tfjs-core';
import { architectureOf, type AnyCimModelConfig } from '../cim-model-config.ts';
import type { CimModelConfig } from '../vit/config.ts';
import { modelMetadata } from '../vit/config.ts';
import type { CimResNetConfig } from '../resnet/config.ts';
import { layerLrScale } from './layer-decay.ts';
import { ResnetClassifier, resnetClassifierConfigOf } from './resnet-classifier.ts';
import { classifierConfigOf, VitClassifier } from './vit-classifier.ts';

export type ImageClassifier = VitClassifier | ResnetClassifier;

/** The input side a classifier of this encoder uses by default: a ViT's imgSize, a ResNet's context size. */
export function defaultClassifierImgSize(encoder: AnyCimModelConfig): number {
  return architectureOf(encoder) === 'cim-resnet' ? (encoder as CimResNetConfig).contextSize : (encoder as CimModelConfig).imgSize;
}

/** A fresh classifier (head as initialised) for `encoder`; dropPath applies to ViTs only. */
export function createClassifier(
  encoder: AnyCimModelConfig,
  o: { imgSize?: number; numClasses: number; dropPath?: number },
  seed = 0,
): ImageClassifier {
  if (architectureOf(encoder) === 'cim-resnet') return new ResnetClassifier(resnetClassifierConfigOf(encoder as CimResNetConfig, o), seed);
  return new VitClassifier(classifierConfigOf(encoder as CimModelConfig, o), seed);
}

/** Layer-wise lr multiplier: by ViT block (layer-decay.ts) or by ResNet stage. */
export function classifierLrScale(model: ImageClassifier, name: string, decay: number): number {
  return model instanceof ResnetClassifier ? model.lrScale(name, decay) : layerLrScale(name, model.config.depth, decay);
}

/** Dimension of the frozen features. */
export function classifierFeatureDim(model: ImageClassifier): number {
  return model instanceof ResnetClassifier ? model.featureDim : model.config.embedDim;
}

/**
 * Frozen features [N, D] for probing and k-NN: a ViT's mean patch token after the encoder's final
 * norm (the encoder as CIM pre-trained it), a ResNet's global average pool in eval mode.
 */
export function classifierFeatures(model: ImageClassifier, x: tf.Tensor4D): tf.Tensor2D {
  if (model instanceof ResnetClassifier) return model.pooledFeatures(x);
  return tf.tidy(() => VitClassifier.meanPatchTokens(model.forwardEncoder(x)));
}

/** The safetensors metadata of a fine-tuned classifier (a pre-training checkpoint's keys plus num_classes, kind). */
export function classifierMetadata(model: ImageClassifier, encoder: AnyCimModelConfig): Record<string, string> {
  if (model instanceof ResnetClassifier) return model.metadata(encoder as CimResNetConfig);
  return {
    ...modelMetadata({ ...(encoder as CimModelConfig), imgSize: model.config.imgSize }),
    num_classes: String(model.config.numClasses),
    kind: 'vit-classifier',
  };
}
