/**
 * CIM with a ViT backbone (the authors' `CorrelationalAutoencoderViT`, correlation loss only):
 * exemplars → online encoder; context → target (EMA) encoder, no gradient; a cross-attention
 * correlation decoder predicts, for every context pixel, whether the exemplar came from there.
 * Images are NHWC here. The stages carry the paper's names.
 */
import * as tf from '@tensorflow/tfjs-core';
import { modelMetadata, type CimModelConfig } from './config.ts';
import type { HostTensor } from '../nn/params.ts';
import { CimBase, type CimForward, type EncoderRole, type LoadOptions } from '../head/cim-base.ts';
import { cimParamSpecs, targetNameOf } from './params.ts';
import { attention, gelu, layerNorm, linear, mergeHeads, splitHeads } from '../nn/layers.ts';
import { resizePosEmbed, sincosPosEmbed2d } from '../nn/pos-embed.ts';

export type { CimForward };

/** Online and target encoder parameter prefixes: the target's carry a `_c`. */
const PREFIXES = {
  online: { embed: 'patch_embed', blocks: 'blocks', norm: 'norm' },
  target: { embed: 'patch_embed_c', blocks: 'blocks_c', norm: 'norm_c' },
} as const;

export class CimViT extends CimBase<CimModelConfig> {
  readonly architecture = 'cim-vit' as const;
  /** fixed sin-cos buffers: encoder pos embed for the img_size grid, decoder pos embed on the host */
  private posEmbed: Float32Array;
  /** the decoder position embedding's values on the host (the webgpu backend has no synchronous read in Node) */
  private decoderPosEmbedHost: Float32Array;
  private posCache = new Map<number, tf.Tensor>();

  constructor(config: CimModelConfig, seed = 0) {
    const gCtx = config.contextSize / config.patchSize;
    super(config, seed, { specs: cimParamSpecs(config), contextGrid: gCtx, onlineNameOf });
    this.posEmbed = sincosPosEmbed2d(config.embedDim, config.imgSize / config.patchSize);
    this.decoderPosEmbedHost = sincosPosEmbed2d(config.decoderEmbedDim, gCtx);
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

  /** Frozen patch embedding, the blocks and the final norm of the online or the target encoder: [N, S, S, 3] → [N, 1 + g², D]. */
  protected encode(x4: tf.Tensor4D, role: EncoderRole): tf.Tensor3D {
    const pre = PREFIXES[role];
    let x = this.embed(x4, pre.embed);
    for (let i = 0; i < this.config.depth; i++) x = this.block(x, `${pre.blocks}.${i}`, this.config.numHeads);
    return layerNorm(x, this.p(`${pre.norm}.weight`), this.p(`${pre.norm}.bias`)) as tf.Tensor3D;
  }

  /**
   * Load PyTorch-named, PyTorch-layout weights (CimBase.loadStateDict). Buffers pos_embed /
   * decoder_pos_embed, when present, replace ours (they are checked to be sin-cos by the parity test).
   */
  override loadStateDict(get: (name: string) => HostTensor | undefined, opts: LoadOptions = {}): void {
    super.loadStateDict(get, opts);
    const pe = get('pos_embed');
    if (pe) {
      const rows = 1 + (this.config.imgSize / this.config.patchSize) ** 2;
      if (pe.shape.join('×') !== `1×${rows}×${this.config.embedDim}`)
        throw new Error(`pos_embed shape ${pe.shape.join('×')} does not fit the model`);
      this.posEmbed = Float32Array.from(pe.data);
      for (const t of this.posCache.values()) t.dispose();
      this.posCache.clear();
    }
    const dpe = get('decoder_pos_embed');
    if (dpe) {
      if (dpe.data.length !== this.decoderPos.size)
        throw new Error(`decoder_pos_embed shape ${dpe.shape.join('×')} does not fit the model`);
      const shape = this.decoderPos.shape;
      this.decoderPos.dispose();
      this.decoderPosEmbedHost = Float32Array.from(dpe.data);
      this.decoderPos = tf.tensor(this.decoderPosEmbedHost, shape);
    }
  }

  /** pos_embed [1, 1 + g², D] for the imgSize grid and decoder_pos_embed [1, 1 + gc², Dd], PyTorch layout. */
  override fixedBuffers(): Map<string, HostTensor> {
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

  protected override disposeBuffers(): void {
    for (const t of this.posCache.values()) t.dispose();
    this.posCache.clear();
  }
}

export function onlineNameOf(targetName: string): string {
  return targetName
    .replace(/^patch_embed_c\./, 'patch_embed.')
    .replace(/^blocks_c\./, 'blocks.')
    .replace(/^norm_c\./, 'norm.');
}

export { targetNameOf };
