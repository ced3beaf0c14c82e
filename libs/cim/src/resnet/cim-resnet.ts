/**
 * CIM with a ResNet backbone (the paper's CNN experiments; the authors released no CNN code):
 * exemplars → online ResNet; context → target ResNet, an EMA of the online one, no gradient; the
 * final feature maps become tokens [N, 1 + h·w, C] (global-average-pool token first) and the
 * ViT variant's correlation decoder and loss run unchanged on them. The context grid is the
 * ResNet's output grid on the context (cimResnetMicro: 32 px / stride 8 → 4×4).
 * Names: online `encoder.<torchvision name>`, target `encoder_c.<…>`, decoder as CimViT's.
 * BatchNorm: both encoders run in training mode during pre-training (batch statistics), each
 * updating its own running statistics; the EMA covers weights and γ/β, not the buffers (MoCo/BYOL).
 */
import * as tf from '@tensorflow/tfjs-core';
import { cimResNetMetadata, resnetGrid, resnetOutDim, type CimResNetConfig } from './config.ts';
import { CimBase, type EncoderRole } from '../head/cim-base.ts';
import { correlationDecoderSpecs } from '../head/correlation-decoder.ts';
import { resnetParamSpecs, type ResNetParamSpec } from './params.ts';
import { featuresToTokens, forwardResNet } from './resnet.ts';

export const ONLINE_PREFIX = 'encoder.';
export const TARGET_PREFIX = 'encoder_c.';

export function resnetTargetNameOf(onlineName: string): string {
  return onlineName.startsWith(ONLINE_PREFIX) ? TARGET_PREFIX + onlineName.slice(ONLINE_PREFIX.length) : onlineName;
}
export function resnetOnlineNameOf(targetName: string): string {
  return targetName.startsWith(TARGET_PREFIX) ? ONLINE_PREFIX + targetName.slice(TARGET_PREFIX.length) : targetName;
}

/** Online encoder, decoder and target encoder specs, in that order (the decoder as CimViT's). */
function cimResNetSpecs(config: CimResNetConfig): ResNetParamSpec[] {
  const bb = config.backbone;
  const online = resnetParamSpecs(bb, ONLINE_PREFIX, 'online', true);
  const target = resnetParamSpecs(bb, TARGET_PREFIX, 'target', false);
  const decoder = correlationDecoderSpecs(resnetOutDim(bb), config.decoderEmbedDim, config.decoderNumHeads, config.mlpRatio).map((s) => ({
    ...s,
    buffer: false,
  }));
  return [...online, ...decoder, ...target];
}

export class CimResNet extends CimBase<CimResNetConfig, ResNetParamSpec> {
  readonly architecture = 'cim-resnet' as const;
  /** the exemplars' token grid (side); the context's is `contextGrid` */
  readonly templateGrid: number;

  constructor(config: CimResNetConfig, seed = 0) {
    const contextGrid = resnetGrid(config.backbone, config.contextSize);
    super(config, seed, { specs: cimResNetSpecs(config), contextGrid, onlineNameOf: resnetOnlineNameOf });
    this.templateGrid = resnetGrid(config.backbone, config.templateSize);
  }

  /** The online or target ResNet, BatchNorm in `training` mode: [N, S, S, 3] → tokens [N, 1 + h·w, C]. */
  protected encode(x: tf.Tensor4D, role: EncoderRole): tf.Tensor3D {
    const prefix = role === 'online' ? ONLINE_PREFIX : TARGET_PREFIX;
    return featuresToTokens(forwardResNet(this.config.backbone, (n) => this.p(prefix + n), x, { training: this.training }));
  }

  /** `architecture: cim-resnet` and the backbone and decoder shape (`cimResNetMetadata`). */
  metadata(): Record<string, string> {
    return cimResNetMetadata(this.config);
  }
}
