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
import '@tensorflow/tfjs';
import { fromTorch, toTorch } from '../model/params.ts';
import { assignValues } from '../tensors.ts';
import { cimResNetMetadata, resnetGrid, resnetOutDim, type CimResNetConfig } from './config.ts';
import type { CimModel, HostTensor } from '../model/cim-model.ts';
import type { ParamSpec } from '../model/params.ts';
import { correlationDecoderSpecs, correlationLoss, decoderPosEmbed, forwardCorrelationDecoder } from '../model/correlation-decoder.ts';
import { resnetParamSpecs, type ResNetParamSpec } from './params.ts';
import { featuresToTokens, forwardResNet } from './resnet.ts';
import { initParams } from '../model/init-params.ts';

export const ONLINE_PREFIX = 'encoder.';
export const TARGET_PREFIX = 'encoder_c.';

export function resnetTargetNameOf(onlineName: string): string {
  return onlineName.startsWith(ONLINE_PREFIX) ? TARGET_PREFIX + onlineName.slice(ONLINE_PREFIX.length) : onlineName;
}
export function resnetOnlineNameOf(targetName: string): string {
  return targetName.startsWith(TARGET_PREFIX) ? ONLINE_PREFIX + targetName.slice(TARGET_PREFIX.length) : targetName;
}

export class CimResNet implements CimModel {
  readonly architecture = 'cim-resnet' as const;
  readonly config: CimResNetConfig;
  readonly specs: ResNetParamSpec[];
  readonly params: Map<string, tf.Variable>;
  /** context and exemplar token grids (sides) */
  readonly contextGrid: number;
  readonly templateGrid: number;
  /** BatchNorm mode of both encoders: batch statistics in pre-training */
  training = true;
  private decoderPos: tf.Tensor;
  private disposed = false;

  constructor(config: CimResNetConfig, seed = 0) {
    this.config = config;
    const bb = config.backbone;
    const online = resnetParamSpecs(bb, ONLINE_PREFIX, 'online', true);
    const target = resnetParamSpecs(bb, TARGET_PREFIX, 'target', false);
    const decoder = correlationDecoderSpecs(resnetOutDim(bb), config.decoderEmbedDim, config.decoderNumHeads, config.mlpRatio).map((s) => ({ ...s, buffer: false }));
    this.specs = [...online, ...decoder, ...target];
    this.params = initParams(this.specs, seed, resnetOnlineNameOf);
    this.contextGrid = resnetGrid(bb, config.contextSize);
    this.templateGrid = resnetGrid(bb, config.templateSize);
    this.decoderPos = decoderPosEmbed(config.decoderEmbedDim, this.contextGrid);
  }

  trainableNames(): string[] {
    return this.specs.filter((s) => s.trainable).map((s) => s.name);
  }

  /** BatchNorm running statistics of both encoders, updated by the forward in training mode. */
  bufferNames(): string[] {
    return this.specs.filter((s) => s.buffer).map((s) => s.name);
  }

  readonly p = (name: string): tf.Variable => {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  };

  /** Online ResNet on exemplars: [N, S, S, 3] → [N, 1 + gs², C]. */
  forwardEncoder(templates: tf.Tensor4D): tf.Tensor3D {
    const f = forwardResNet(this.config.backbone, (n) => this.p(ONLINE_PREFIX + n), templates, { training: this.training });
    return featuresToTokens(f);
  }

  /** Target ResNet on the context: [B, C, C, 3] → [B, 1 + gc², C]. No gradient flows. */
  forwardTargetEncoder(context: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => featuresToTokens(forwardResNet(this.config.backbone, (n) => this.p(TARGET_PREFIX + n), context, { training: this.training })));
  }

  /** ctx [B, 1 + gc², C], tmpl [T·B, 1 + gs², C] → logits [T·B, Cpx, Cpx, 2]. */
  forwardCorrelationDecoder(ctx: tf.Tensor3D, tmpl: tf.Tensor3D): tf.Tensor4D {
    const c = this.config;
    return forwardCorrelationDecoder(this.p, this.decoderPos, { decoderEmbedDim: c.decoderEmbedDim, decoderNumHeads: c.decoderNumHeads, grid: this.contextGrid, contextSize: c.contextSize }, ctx, tmpl);
  }

  forwardLoss(logits: tf.Tensor4D, masks: tf.Tensor3D, batchSize: number): tf.Scalar {
    return correlationLoss(logits, masks, batchSize);
  }

  /** context [B, C, C, 3], templates [T·B, S, S, 3], masks [T·B, C, C] float. */
  forward(context: tf.Tensor4D, templates: tf.Tensor4D, masks: tf.Tensor3D): { logits: tf.Tensor4D; loss: tf.Scalar } {
    return tf.tidy(() => {
      const logits = this.forwardCorrelationDecoder(this.forwardTargetEncoder(context), this.forwardEncoder(templates));
      return { logits, loss: this.forwardLoss(logits, masks, context.shape[0]) };
    });
  }

  /** Loss and gradients of every trainable parameter (our layout); the target runs off the tape. */
  lossAndGrads(context: tf.Tensor4D, templates: tf.Tensor4D, masks: tf.Tensor3D): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const ctx = this.forwardTargetEncoder(context);
    const names = this.trainableNames();
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.forwardCorrelationDecoder(ctx, this.forwardEncoder(templates));
      return this.forwardLoss(logits, masks, context.shape[0]);
    }, names.map((n) => this.p(n)));
    ctx.dispose();
    const out = new Map<string, tf.Tensor>();
    for (const n of names) out.set(n, grads[this.p(n).name]);
    return { loss: value, grads: out };
  }

  /** target ← m·target + (1 − m)·online for conv weights and BN γ/β (running statistics excluded). */
  momentumUpdate(m: number): void {
    tf.tidy(() => {
      for (const s of this.specs) {
        if (s.role !== 'target' || s.buffer) continue;
        const t = this.p(s.name);
        t.assign(tf.add(tf.mul(t, m), tf.mul(this.p(resnetOnlineNameOf(s.name)), 1 - m)));
      }
    });
  }

  /** Every parameter and buffer in PyTorch layout and names. */
  async stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const s of this.specs) out.set(s.name, { shape: s.torchShape, data: toTorch(s, (await this.p(s.name).data()) as Float32Array) });
    return out;
  }

  /** None: the decoder's sin-cos position embedding follows from the config. */
  fixedBuffers(): Map<string, HostTensor> {
    return new Map();
  }

  /** `architecture: cim-resnet` and the backbone and decoder shape (`cimResNetMetadata`). */
  metadata(): Record<string, string> {
    return cimResNetMetadata(this.config);
  }

  /**
   * Load PyTorch-named, PyTorch-layout weights (running statistics included); `targetFromOnline`
   * fills encoder_c.* from encoder.*, `onlyRoles` skips the other roles.
   */
  loadStateDict(get: (name: string) => HostTensor | undefined, opts: { targetFromOnline?: boolean; onlyRoles?: ParamSpec['role'][] } = {}): void {
    for (const s of this.specs) {
      if (opts.onlyRoles && !opts.onlyRoles.includes(s.role)) continue;
      let src = get(s.name);
      if (!src && s.role === 'target' && opts.targetFromOnline) src = get(resnetOnlineNameOf(s.name));
      if (!src) throw new Error(`checkpoint lacks parameter ${s.name}`);
      if (src.shape.join('×') !== s.torchShape.join('×')) throw new Error(`parameter ${s.name}: checkpoint shape ${src.shape.join('×')}, model expects ${s.torchShape.join('×')}`);
      assignValues(this.p(s.name), fromTorch(s, src.data));
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    this.decoderPos.dispose();
  }
}
