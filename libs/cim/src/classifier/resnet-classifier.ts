/**
 * A ResNet image classifier for fine-tuning and probing (torchvision's `ResNet.forward` tail):
 * backbone → global average pool over the final feature map → linear `head`. Parameter names are
 * torchvision's (`conv1.*`, `bn1.*`, `layerK.J.*`, `…downsample.0/1.*`) plus `head.*`; BatchNorm
 * running statistics are buffers (saved and loaded, never trained).
 *
 * BatchNorm mode follows `forward`'s `rng`, the same switch the ViT classifier uses for drop path:
 * given = training (batch statistics, running statistics updated in place), absent = eval (running
 * statistics). `pooledFeatures` (probe, k-NN, feature statistics) is always eval mode.
 *
 * Loading a CIM ResNet checkpoint: the online encoder is `encoder.<torchvision name>`, the target
 * (momentum) encoder `encoder_c.<…>` (resnet/cim-resnet.ts); both carry their own running
 * statistics. A plain torchvision state dict (no prefix) loads too.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { fromTorch, ourShape, toTorch, type ParamSpec } from '../nn/params.ts';
import { Rng } from '../rng.ts';
import { assignValues, newVariable } from '../nn/tensors.ts';
import { cimResNetMetadata, resnetOutDim, type CimResNetConfig, type ResNetConfig } from '../resnet/config.ts';
import { resnetParamSpecs, type ResNetParamSpec } from '../resnet/params.ts';
import { forwardResNet } from '../resnet/resnet.ts';
import type { EncoderChoice, StateGetter } from './vit-classifier.ts';

export interface ResnetClassifierConfig {
  backbone: ResNetConfig;
  /** input side (pixels) */
  imgSize: number;
  numClasses: number;
}

/** The classifier for a CIM ResNet's backbone, at the context size unless `imgSize` is given. */
export function resnetClassifierConfigOf(m: CimResNetConfig, o: { imgSize?: number; numClasses: number }): ResnetClassifierConfig {
  if (!Number.isInteger(o.numClasses) || o.numClasses < 2)
    throw new Error(`classifier: numClasses must be an integer >= 2, got ${o.numClasses}`);
  return { backbone: m.backbone, imgSize: o.imgSize ?? m.contextSize, numClasses: o.numClasses };
}

/**
 * Stage id of a parameter for layer-wise lr decay: 0 for the stem (conv1, bn1), k for layerk.*,
 * numStages + 1 for the head. So with S stages, stage k gets decay^(S + 1 − k), the stem
 * decay^(S + 1) and the head 1: BEiT's rule with a ResNet stage in place of a ViT block.
 */
export function resnetStageIdOf(name: string, numStages: number): number {
  const m = /^layer(\d+)\./.exec(name);
  if (m) return Number(m[1]);
  if (name.startsWith('head.')) return numStages + 1;
  return 0;
}

export function resnetLayerLrScale(name: string, numStages: number, decay: number): number {
  return decay ** (numStages + 1 - resnetStageIdOf(name, numStages));
}

export class ResnetClassifier {
  readonly config: ResnetClassifierConfig;
  readonly specs: ResNetParamSpec[];
  readonly params = new Map<string, tf.Variable>();
  /** channels of the pooled feature */
  readonly featureDim: number;
  private disposed = false;

  constructor(config: ResnetClassifierConfig, seed = 0) {
    this.config = config;
    this.featureDim = resnetOutDim(config.backbone);
    const C = this.featureDim;
    const K = config.numClasses;
    // torchvision's nn.Linear default: U(−1/√C, 1/√C) for weight and bias
    const bound = 1 / Math.sqrt(C);
    const uniform = (rng: Rng, out: Float32Array) => {
      for (let i = 0; i < out.length; i++) out[i] = (2 * rng.random() - 1) * bound;
    };
    this.specs = [
      ...resnetParamSpecs(config.backbone),
      {
        name: 'head.weight',
        torchShape: [K, C],
        kind: 'linear',
        role: 'online',
        trainable: true,
        decay: true,
        init: uniform,
        buffer: false,
      },
      { name: 'head.bias', torchShape: [K], kind: 'plain', role: 'online', trainable: true, decay: false, init: uniform, buffer: false },
    ];
    const rng = new Rng(seed);
    for (const s of this.specs) {
      const v = new Float32Array(s.torchShape.reduce((a, b) => a * b, 1));
      s.init(rng, v);
      this.params.set(s.name, newVariable(tf.tensor(fromTorch(s, v), ourShape(s)), s.trainable));
    }
  }

  trainableNames(): string[] {
    return this.specs.filter((s) => s.trainable).map((s) => s.name);
  }

  /** BatchNorm running statistics (updated by a training-mode forward). */
  bufferNames(): string[] {
    return this.specs.filter((s) => s.buffer).map((s) => s.name);
  }

  readonly p = (name: string): tf.Variable => {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  };

  /** layer-wise lr multiplier of a parameter (see resnetStageIdOf) */
  lrScale(name: string, decay: number): number {
    return resnetLayerLrScale(name, this.config.backbone.layers.length, decay);
  }

  private checkInput(x: tf.Tensor4D): void {
    const s = this.config.imgSize;
    if (x.shape[1] !== s || x.shape[2] !== s) throw new Error(`classifier expects ${s}×${s} images, got ${x.shape[1]}×${x.shape[2]}`);
  }

  /** Global-average-pooled backbone output [N, C]; `training` = batch statistics. */
  pooled(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    this.checkInput(x);
    return tf.mean(forwardResNet(this.config.backbone, this.p, x, { training }), [1, 2]) as tf.Tensor2D;
  }

  /** Frozen features for probing: eval-mode BatchNorm, [N, S, S, 3] → [N, C]. */
  pooledFeatures(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.pooled(x, false));
  }

  /** Logits [N, numClasses]; `rng` given = training mode (batch statistics; the rng itself is unused). */
  forward(x: tf.Tensor4D, rng?: Rng): tf.Tensor2D {
    const f = this.pooled(x, rng !== undefined);
    return tf.add(tf.matMul(f, this.p('head.weight')), this.p('head.bias')) as tf.Tensor2D;
  }

  /**
   * Load the backbone of a CIM ResNet checkpoint: `online` reads encoder.*, `target` encoder_c.*;
   * a name without either prefix (a torchvision file) is accepted as well. The head stays as
   * initialised. Running statistics load with the weights.
   */
  loadEncoder(get: StateGetter, which: EncoderChoice = 'online'): { loaded: number } {
    const prefix = which === 'target' ? 'encoder_c.' : 'encoder.';
    let loaded = 0;
    for (const s of this.specs) {
      if (s.name.startsWith('head.')) continue;
      const src = get(prefix + s.name) ?? (which === 'online' ? get(s.name) : undefined);
      this.assign(s, src, prefix + s.name);
      loaded++;
    }
    return { loaded };
  }

  /** Load every parameter and buffer of a classifier (our fine-tuning checkpoint). */
  loadStateDict(get: StateGetter): void {
    for (const s of this.specs) this.assign(s, get(s.name), s.name);
  }

  private assign(s: ParamSpec, src: ReturnType<StateGetter>, srcName: string): void {
    if (!src) throw new Error(`checkpoint lacks parameter ${srcName}`);
    if (src.shape.join('×') !== s.torchShape.join('×')) {
      throw new Error(`parameter ${srcName}: checkpoint shape ${src.shape.join('×')}, classifier expects ${s.torchShape.join('×')}`);
    }
    assignValues(this.p(s.name), fromTorch(s, src.data));
  }

  /** PyTorch names and layout, running statistics included. */
  async stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const s of this.specs) out.set(s.name, { shape: s.torchShape, data: toTorch(s, (await this.p(s.name).data()) as Float32Array) });
    return out;
  }

  /** The safetensors metadata of a fine-tuned file: the backbone's (as a CIM ResNet's) and the classifier's. */
  metadata(encoder: CimResNetConfig): Record<string, string> {
    return {
      ...cimResNetMetadata(encoder),
      img_size: String(this.config.imgSize),
      num_classes: String(this.config.numClasses),
      kind: 'resnet-classifier',
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
  }
}
