/**
 * The CIM plumbing every backbone shares, written once: exemplars → online encoder; context →
 * target (EMA) encoder off the tape; the correlation decoder and loss; loss and gradients; the
 * momentum update; state-dict save and load; disposal. A backbone (CimViT, CimResNet) extends
 * CimBase and supplies only its forward stages (`encode`), its parameter specs and the map from a
 * target parameter's name to its online twin.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; the union package registers them all.
import '@tensorflow/tfjs';
import { correlationLoss, decoderPosEmbed, forwardCorrelationDecoder } from './correlation-decoder.ts';
import { initParams } from '../nn/init-params.ts';
import { fromTorch, toTorch, type HostTensor, type ParamSpec } from '../nn/params.ts';
import { assignValues } from '../nn/tensors.ts';

export interface CimForward {
  /** [T·B, C, C, 2] per-pixel logits, template-major */
  logits: tf.Tensor4D;
  /** scalar: Σ over templates of the mean per-pixel cross-entropy */
  loss: tf.Scalar;
}

/** What the head reads of a model's config (every backbone's config has these fields). */
export interface CimHeadConfig {
  decoderEmbedDim: number;
  decoderNumHeads: number;
  /** side of the context (px): the predicted maps' side */
  contextSize: number;
}

export type EncoderRole = 'online' | 'target';
export type LoadOptions = { targetFromOnline?: boolean; onlyRoles?: ParamSpec['role'][] };

export interface CimBaseInit<S extends ParamSpec> {
  /** every parameter and buffer, in spec order (online, decoder, target) */
  specs: S[];
  /** the side of the context's token grid, the correlation decoder's query grid */
  contextGrid: number;
  /** a target parameter's name → its online twin's (initial copy, EMA source, `targetFromOnline`) */
  onlineNameOf: (targetName: string) => string;
}

/**
 * The backbones (vit/, resnet/) extend it; the `CimModel` interface (cim-model.ts, above the
 * backbones) is what they then offer the engine, checked where the factory returns them.
 */
export abstract class CimBase<C extends CimHeadConfig, S extends ParamSpec = ParamSpec> {
  /** the backbone family, as written in a checkpoint's `architecture` metadata */
  abstract readonly architecture: string;
  readonly config: C;
  readonly specs: S[];
  readonly params: Map<string, tf.Variable>;
  /** the side of the context's token grid */
  readonly contextGrid: number;
  /** Pre-training mode: only BatchNorm cares (batch statistics and running-statistic updates). */
  training = true;
  protected readonly onlineNameOf: (targetName: string) => string;
  /** the correlation decoder's sin-cos position embedding [1, 1 + g², Dd] */
  protected decoderPos: tf.Tensor;
  private disposed = false;

  protected constructor(config: C, seed: number, init: CimBaseInit<S>) {
    this.config = config;
    this.specs = init.specs;
    this.onlineNameOf = init.onlineNameOf;
    this.params = initParams(this.specs, seed, init.onlineNameOf);
    this.contextGrid = init.contextGrid;
    this.decoderPos = decoderPosEmbed(config.decoderEmbedDim, init.contextGrid);
  }

  /** The backbone's forward stages: images [N, S, S, 3] → tokens [N, 1 + g², D] of the online or target encoder. */
  protected abstract encode(x: tf.Tensor4D, role: EncoderRole): tf.Tensor3D;

  /** the safetensors header that makes a checkpoint self-describing */
  abstract metadata(): Record<string, string>;

  /** bound, so it can be handed on as a parameter getter */
  readonly p = (name: string): tf.Variable => {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  };

  /** Parameters that get gradients, in spec order. */
  trainableNames(): string[] {
    return this.specs.filter((s) => s.trainable).map((s) => s.name);
  }

  /** Running statistics (BatchNorm) the forward updates without gradients, in spec order. */
  bufferNames(): string[] {
    return this.specs.filter((s) => s.buffer).map((s) => s.name);
  }

  /** Online encoder on exemplars: [N, S, S, 3] → [N, 1 + gs², D]. */
  forwardEncoder(templates: tf.Tensor4D): tf.Tensor3D {
    return this.encode(templates, 'online');
  }

  /** Target (momentum) encoder on the context: [B, C, C, 3] → [B, 1 + gc², D]. No gradient flows. */
  forwardTargetEncoder(context: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => this.encode(context, 'target'));
  }

  /**
   * Correlation decoder. ctx [B, 1 + gc², D] (target encoder), tmpl [T·B, 1 + gs², D] (online
   * encoder, template-major) → logits [T·B, C, C, 2].
   */
  forwardCorrelationDecoder(ctx: tf.Tensor3D, tmpl: tf.Tensor3D): tf.Tensor4D {
    const c = this.config;
    const shape = {
      decoderEmbedDim: c.decoderEmbedDim,
      decoderNumHeads: c.decoderNumHeads,
      grid: this.contextGrid,
      contextSize: c.contextSize,
    };
    return forwardCorrelationDecoder(this.p, this.decoderPos, shape, ctx, tmpl);
  }

  /** Σ over templates of the mean per-pixel 2-class cross-entropy; masks [T·B, C, C] in {0, 1}. */
  forwardLoss(logits: tf.Tensor4D, masks: tf.Tensor3D, batchSize: number): tf.Scalar {
    return correlationLoss(logits, masks, batchSize);
  }

  /** The full forward pass. context [B, C, C, 3], templates [T·B, S, S, 3], masks [T·B, C, C] float. */
  forward(context: tf.Tensor4D, templates: tf.Tensor4D, masks: tf.Tensor3D): CimForward {
    return tf.tidy(() => {
      const ctx = this.forwardTargetEncoder(context);
      const logits = this.forwardCorrelationDecoder(ctx, this.forwardEncoder(templates));
      return { logits, loss: this.forwardLoss(logits, masks, context.shape[0]) };
    });
  }

  /**
   * Loss and gradients of every trainable parameter (our layout). The context encoder runs
   * outside the tape: the target gets no gradient, and a shared parameter (the ViT's cls token) none through it.
   */
  lossAndGrads(context: tf.Tensor4D, templates: tf.Tensor4D, masks: tf.Tensor3D): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const ctx = this.forwardTargetEncoder(context);
    const names = this.trainableNames();
    const { value, grads } = tf.variableGrads(
      () => {
        const logits = this.forwardCorrelationDecoder(ctx, this.forwardEncoder(templates));
        return this.forwardLoss(logits, masks, context.shape[0]);
      },
      names.map((n) => this.p(n)),
    );
    ctx.dispose();
    const out = new Map<string, tf.Tensor>();
    for (const n of names) out.set(n, grads[this.p(n).name]);
    return { loss: value, grads: out };
  }

  /** target ← m·target + (1 − m)·online, for every target parameter; running statistics excluded (MoCo/BYOL). */
  momentumUpdate(m: number): void {
    tf.tidy(() => {
      for (const s of this.specs) {
        if (s.role !== 'target' || s.buffer) continue;
        const t = this.p(s.name);
        t.assign(tf.add(tf.mul(t, m), tf.mul(this.p(this.onlineNameOf(s.name)), 1 - m)));
      }
    });
  }

  /** Every parameter and buffer in `specs`, PyTorch names and layout (a `state_dict`). */
  async stateDict(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const s of this.specs) out.set(s.name, { shape: s.torchShape, data: toTorch(s, (await this.p(s.name).data()) as Float32Array) });
    return out;
  }

  /** Fixed tensors saved beside the state dict; none unless the backbone has some. */
  fixedBuffers(): Map<string, HostTensor> {
    return new Map();
  }

  /**
   * Load PyTorch-named, PyTorch-layout weights (running statistics included). Every parameter must
   * be present with the right shape; `targetFromOnline` fills a missing target parameter from its
   * online twin (an encoder-only checkpoint), `onlyRoles` skips the other roles.
   */
  loadStateDict(get: (name: string) => HostTensor | undefined, opts: LoadOptions = {}): void {
    for (const s of this.specs) {
      if (opts.onlyRoles && !opts.onlyRoles.includes(s.role)) continue;
      let src = get(s.name);
      if (!src && s.role === 'target' && opts.targetFromOnline) src = get(this.onlineNameOf(s.name));
      if (!src) throw new Error(`checkpoint lacks parameter ${s.name}`);
      const want = s.torchShape.join('×');
      if (src.shape.join('×') !== want)
        throw new Error(`parameter ${s.name}: checkpoint shape ${src.shape.join('×')}, model expects ${want}`);
      assignValues(this.p(s.name), fromTorch(s, src.data));
    }
  }

  /** Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    this.decoderPos.dispose();
    this.disposeBuffers();
  }

  /** Tensors a backbone holds beside its parameters (the ViT's position-embedding cache). */
  protected disposeBuffers(): void {}
}
