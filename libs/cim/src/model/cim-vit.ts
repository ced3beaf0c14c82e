/**
 * CIM with a ViT backbone (the authors' `CorrelationalAutoencoderViT`, correlation loss only):
 * exemplars → online encoder; context → target (EMA) encoder, no gradient; a cross-attention
 * correlation decoder predicts, for every context pixel, whether the exemplar came from there.
 * Images are NHWC here. The stages carry the paper's names.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; the union package registers them all.
import '@tensorflow/tfjs';
import { modelMetadata, type CimModelConfig } from './config.ts';
import type { CimForward, CimModel, HostTensor } from './cim-model.ts';
import { cimParamSpecs, fromTorch, targetNameOf, toTorch, type ParamSpec } from './params.ts';
import { attention, gelu, layerNorm, linear, mergeHeads, splitHeads } from './layers.ts';
import { correlationLoss, forwardCorrelationDecoder } from './correlation-decoder.ts';
import { resizePosEmbed, sincosPosEmbed2d } from './pos-embed.ts';
import { assignValues } from '../tensors.ts';
import { initParams } from './init-params.ts';

type Params = Map<string, tf.Variable>;

export type { CimForward };

export class CimViT implements CimModel {
  readonly architecture = 'cim-vit' as const;
  readonly config: CimModelConfig;
  readonly specs: ParamSpec[];
  readonly params: Params;
  /** no train/eval difference: LayerNorm only, no dropout in pre-training */
  training = true;
  /** fixed sin-cos buffers: encoder pos embed for the img_size grid, decoder pos embed */
  private posEmbed: Float32Array;
  private decoderPosEmbed: tf.Tensor;
  /** decoderPosEmbed's values on the host (the webgpu backend has no synchronous read in Node) */
  private decoderPosEmbedHost: Float32Array;
  private posCache = new Map<number, tf.Tensor>();
  private disposed = false;

  constructor(config: CimModelConfig, seed = 0) {
    this.config = config;
    this.specs = cimParamSpecs(config);
    this.params = initParams(this.specs, seed, onlineNameOf);
    const gImg = config.imgSize / config.patchSize;
    const gCtx = config.contextSize / config.patchSize;
    this.posEmbed = sincosPosEmbed2d(config.embedDim, gImg);
    this.decoderPosEmbedHost = sincosPosEmbed2d(config.decoderEmbedDim, gCtx);
    this.decoderPosEmbed = tf.tensor3d(this.decoderPosEmbedHost, [1, 1 + gCtx * gCtx, config.decoderEmbedDim]);
  }

  /** Parameters that get gradients, in a fixed order. */
  trainableNames(): string[] {
    return this.specs.filter((s) => s.trainable).map((s) => s.name);
  }

  /** No running statistics in a ViT. */
  bufferNames(): string[] {
    return [];
  }

  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /** The encoder's position embedding resized to a g×g grid: [1, 1 + g², D]. */
  private posFor(g: number): tf.Tensor {
    let t = this.posCache.get(g);
    if (!t) {
      t = tf.keep(tf.tensor(resizePosEmbed(this.posEmbed, this.config.embedDim, g), [1, 1 + g * g, this.config.embedDim]));
      this.posCache.set(g, t);
    }
    return t;
  }

  /** Frozen conv patch embedding + cls token + position embedding: [N, S, S, 3] → [N, 1 + g², D]. */
  private embed(x: tf.Tensor4D, prefix: 'patch_embed' | 'patch_embed_c'): tf.Tensor {
    const { patchSize: p, embedDim: D } = this.config;
    const g = x.shape[1] / p;
    const n = x.shape[0];
    const patches = tf.add(tf.conv2d(x, this.p(`${prefix}.proj.weight`) as tf.Tensor4D, p, 'valid'), this.p(`${prefix}.proj.bias`));
    const tokens = tf.reshape(patches, [n, g * g, D]);
    const cls = tf.tile(this.p('cls_token'), [n, 1, 1]);
    return tf.add(tf.concat([cls, tokens], 1), this.posFor(g));
  }

  private block(x: tf.Tensor, prefix: string, heads: number): tf.Tensor {
    const P = (n: string) => this.p(`${prefix}.${n}`);
    const D = x.shape[2]!;
    const h = layerNorm(x, P('norm1.weight'), P('norm1.bias'));
    const qkv = linear(h, P('attn.qkv.weight'), P('attn.qkv.bias'));
    const [q, k, v] = tf.split(qkv, [D, D, D], 2).map((t) => splitHeads(t, heads));
    x = tf.add(x, linear(mergeHeads(attention(q, k, v)), P('attn.proj.weight'), P('attn.proj.bias')));
    const h2 = layerNorm(x, P('norm2.weight'), P('norm2.bias'));
    const m = linear(gelu(linear(h2, P('mlp.fc1.weight'), P('mlp.fc1.bias'))), P('mlp.fc2.weight'), P('mlp.fc2.bias'));
    return tf.add(x, m);
  }

  /** Online encoder on exemplars: [N, S, S, 3] → [N, 1 + gs², D]. */
  forwardEncoder(templates: tf.Tensor4D): tf.Tensor3D {
    let x = this.embed(templates, 'patch_embed');
    for (let i = 0; i < this.config.depth; i++) x = this.block(x, `blocks.${i}`, this.config.numHeads);
    return layerNorm(x, this.p('norm.weight'), this.p('norm.bias')) as tf.Tensor3D;
  }

  /** Target (momentum) encoder on the context: [B, C, C, 3] → [B, 1 + gc², D]. No gradient flows. */
  forwardTargetEncoder(context: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      let x = this.embed(context, 'patch_embed_c');
      for (let i = 0; i < this.config.depth; i++) x = this.block(x, `blocks_c.${i}`, this.config.numHeads);
      return layerNorm(x, this.p('norm_c.weight'), this.p('norm_c.bias')) as tf.Tensor3D;
    });
  }

  /**
   * Correlation decoder. ctx [B, 1 + gc², D] (target encoder), tmpl [T·B, 1 + gs², D] (online
   * encoder, template-major) → logits [T·B, C, C, 2]. Every template attends against the same
   * context queries, so the context's embedding, norm1 and q projection run once, shared.
   */
  forwardCorrelationDecoder(ctx: tf.Tensor3D, tmpl: tf.Tensor3D): tf.Tensor4D {
    const c = this.config;
    const shape = { decoderEmbedDim: c.decoderEmbedDim, decoderNumHeads: c.decoderNumHeads, grid: c.contextSize / c.patchSize, contextSize: c.contextSize };
    return forwardCorrelationDecoder((n) => this.p(n), this.decoderPosEmbed, shape, ctx, tmpl);
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
   * outside the tape: the target gets no gradient, and the shared cls token none through it.
   */
  lossAndGrads(context: tf.Tensor4D, templates: tf.Tensor4D, masks: tf.Tensor3D): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const ctx = this.forwardTargetEncoder(context);
    const names = this.trainableNames();
    const vars = names.map((n) => this.p(n));
    const { value, grads } = tf.variableGrads(() => {
      const logits = this.forwardCorrelationDecoder(ctx, this.forwardEncoder(templates));
      return this.forwardLoss(logits, masks, context.shape[0]);
    }, vars);
    ctx.dispose();
    const out = new Map<string, tf.Tensor>();
    for (const n of names) out.set(n, grads[this.p(n).name]);
    return { loss: value, grads: out };
  }

  /** target ← m·target + (1 − m)·online, for the patch embedding, blocks and final norm. */
  momentumUpdate(m: number): void {
    tf.tidy(() => {
      for (const s of this.specs) {
        if (s.role !== 'target') continue;
        const t = this.p(s.name);
        t.assign(tf.add(tf.mul(t, m), tf.mul(this.p(onlineNameOf(s.name)), 1 - m)));
      }
    });
  }

  /** Read every parameter in PyTorch layout and names (a `state_dict`). */
  async stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const s of this.specs) {
      const data = (await this.p(s.name).data()) as Float32Array;
      out.set(s.name, { shape: s.torchShape, data: toTorch(s, data) });
    }
    return out;
  }

  /**
   * Load PyTorch-named, PyTorch-layout weights. Every parameter must be present with the right
   * shape unless `allowMissing` lists a role to fill from the online encoder (an encoder-only
   * checkpoint: target ← online). Buffers pos_embed / decoder_pos_embed, when present, replace
   * ours (they are checked to be sin-cos by the parity test).
   */
  loadStateDict(
    get: (name: string) => { shape: number[]; data: Float32Array } | undefined,
    opts: { targetFromOnline?: boolean; onlyRoles?: ParamSpec['role'][] } = {},
  ): void {
    for (const s of this.specs) {
      if (opts.onlyRoles && !opts.onlyRoles.includes(s.role)) continue;
      let src = get(s.name);
      if (!src && s.role === 'target' && opts.targetFromOnline) src = get(onlineNameOf(s.name));
      if (!src) throw new Error(`checkpoint lacks parameter ${s.name}`);
      const want = s.torchShape.join('×');
      if (src.shape.join('×') !== want) throw new Error(`parameter ${s.name}: checkpoint shape ${src.shape.join('×')}, model expects ${want}`);
      assignValues(this.p(s.name), fromTorch(s, src.data));
    }
    const pe = get('pos_embed');
    if (pe) {
      const rows = 1 + (this.config.imgSize / this.config.patchSize) ** 2;
      if (pe.shape.join('×') !== `1×${rows}×${this.config.embedDim}`) throw new Error(`pos_embed shape ${pe.shape.join('×')} does not fit the model`);
      this.posEmbed = Float32Array.from(pe.data);
      for (const t of this.posCache.values()) t.dispose();
      this.posCache.clear();
    }
    const dpe = get('decoder_pos_embed');
    if (dpe) {
      if (dpe.data.length !== this.decoderPosEmbed.size) throw new Error(`decoder_pos_embed shape ${dpe.shape.join('×')} does not fit the model`);
      this.decoderPosEmbed.dispose();
      this.decoderPosEmbedHost = Float32Array.from(dpe.data);
      this.decoderPosEmbed = tf.tensor(this.decoderPosEmbedHost, this.decoderPosEmbed.shape);
    }
  }

  /** pos_embed [1, 1 + g², D] for the imgSize grid and decoder_pos_embed [1, 1 + gc², Dd], PyTorch layout. */
  fixedBuffers(): Map<string, HostTensor> {
    const c = this.config;
    const g = c.imgSize / c.patchSize;
    const gc = c.contextSize / c.patchSize;
    const { posEmbed, decoderPosEmbed } = this.buffers();
    return new Map([
      ['pos_embed', { shape: [1, 1 + g * g, c.embedDim], data: posEmbed }],
      ['decoder_pos_embed', { shape: [1, 1 + gc * gc, c.decoderEmbedDim], data: decoderPosEmbed }],
    ]);
  }

  /** The fixture's keys plus `architecture: cim-vit`. */
  metadata(): Record<string, string> {
    return { architecture: this.architecture, ...modelMetadata(this.config) };
  }

  /** Fixed buffers in PyTorch layout, for tests and export. */
  buffers(): { posEmbed: Float32Array; decoderPosEmbed: Float32Array } {
    return { posEmbed: this.posEmbed, decoderPosEmbed: this.decoderPosEmbedHost };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    for (const t of this.posCache.values()) t.dispose();
    this.decoderPosEmbed.dispose();
  }
}

export function onlineNameOf(targetName: string): string {
  return targetName.replace(/^patch_embed_c\./, 'patch_embed.').replace(/^blocks_c\./, 'blocks.').replace(/^norm_c\./, 'norm.');
}

export { targetNameOf };
