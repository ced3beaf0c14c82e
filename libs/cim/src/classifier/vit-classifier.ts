/**
 * A ViT image classifier for fine-tuning (MAE's / the official CIM `models_vit` with
 * `global_pool=True`): patch embedding + cls token + fixed position embedding → blocks (with drop
 * path) → mean over the patch tokens (not cls) → LayerNorm `fc_norm` → linear `head`.
 * Its parameter names are the CIM online encoder's (`patch_embed.proj.*`, `cls_token`, `blocks.i.*`,
 * `norm.*`) plus `fc_norm.*` and `head.*`, PyTorch names and layout at the edges as everywhere.
 *
 * `norm.*` (the encoder's final LayerNorm) is kept and loaded but, as in MAE's global-pool head,
 * not on the classification path: it is frozen, used only by `forwardEncoder` (the encoder exactly
 * as CIM pre-trained it) and saved so that a fine-tuned file is still a complete encoder.
 * The position embedding is a fixed buffer: sin-cos for the classifier's grid, or a checkpoint's
 * `pos_embed` resized bicubically (the official `interpolate_pos_encoding`).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import type { CimModelConfig } from '../vit/config.ts';
import { fromTorch, ourShape, toTorch, type ParamSpec } from '../nn/params.ts';
import { cimParamSpecs, targetNameOf } from '../vit/params.ts';
import { attention, gelu, layerNorm, linear, mergeHeads, splitHeads } from '../nn/layers.ts';
import { resizePosEmbed, sincosPosEmbed2d } from '../nn/pos-embed.ts';
import { Rng } from '../rng.ts';
import { assignValues, newVariable } from '../nn/tensors.ts';

/** The encoder's shape is CimModelConfig's, with `imgSize` the fine-tuning resolution (the position grid is imgSize / patchSize). */
export interface VitClassifierConfig extends Pick<
  CimModelConfig,
  'imgSize' | 'patchSize' | 'embedDim' | 'depth' | 'numHeads' | 'mlpRatio'
> {
  numClasses: number;
  /** stochastic depth: block i drops its residual branches with rate dropPath·i/(depth − 1) */
  dropPath: number;
}

export type StateGetter = (name: string) => { shape: number[]; data: Float32Array } | undefined;
export type EncoderChoice = 'online' | 'target';

/** The classifier for a CIM model's encoder at `imgSize`. */
export function classifierConfigOf(m: CimModelConfig, o: { imgSize?: number; numClasses: number; dropPath?: number }): VitClassifierConfig {
  const imgSize = o.imgSize ?? m.imgSize;
  if (imgSize % m.patchSize !== 0) throw new Error(`classifier: imgSize ${imgSize} is not a multiple of patchSize ${m.patchSize}`);
  if (!Number.isInteger(o.numClasses) || o.numClasses < 2)
    throw new Error(`classifier: numClasses must be an integer >= 2, got ${o.numClasses}`);
  return {
    imgSize,
    patchSize: m.patchSize,
    embedDim: m.embedDim,
    depth: m.depth,
    numHeads: m.numHeads,
    mlpRatio: m.mlpRatio,
    numClasses: o.numClasses,
    dropPath: o.dropPath ?? 0,
  };
}

/** Drop-path rate of each block: torch.linspace(0, rate, depth), as timm / MAE. */
export function dropPathRates(rate: number, depth: number): number[] {
  return Array.from({ length: depth }, (_, i) => (depth === 1 ? 0 : (rate * i) / (depth - 1)));
}

/**
 * The classifier's parameters: the CIM online encoder's specs (patch embedding made trainable, as
 * fine-tuning trains it; `norm.*` frozen, see above), then fc_norm and head. Weight decay only on
 * ≥2-d weights (not biases, norms, cls token), as MAE's `param_groups_lrd`.
 */
export function classifierParamSpecs(c: VitClassifierConfig): ParamSpec[] {
  const cim: CimModelConfig = {
    imgSize: c.imgSize,
    patchSize: c.patchSize,
    embedDim: c.embedDim,
    depth: c.depth,
    numHeads: c.numHeads,
    mlpRatio: c.mlpRatio,
    decoderEmbedDim: c.embedDim,
    decoderNumHeads: c.numHeads,
    contextSize: c.imgSize,
    templateSize: c.imgSize,
    numTemplates: 1,
  };
  const encoder = cimParamSpecs(cim)
    .filter((s) => s.role === 'online')
    .map((s): ParamSpec => {
      if (s.name.startsWith('patch_embed.')) return { ...s, trainable: true };
      if (s.name.startsWith('norm.')) return { ...s, trainable: false };
      if (s.name === 'cls_token') return { ...s, decay: false };
      return s;
    });
  const D = c.embedDim;
  const K = c.numClasses;
  return [
    ...encoder,
    { name: 'fc_norm.weight', torchShape: [D], kind: 'plain', role: 'online', trainable: true, decay: false, init: (_, o) => o.fill(1) },
    { name: 'fc_norm.bias', torchShape: [D], kind: 'plain', role: 'online', trainable: true, decay: false, init: (_, o) => o.fill(0) },
    // MAE main_finetune: trunc_normal_(head.weight, std=2e-5)
    { name: 'head.weight', torchShape: [K, D], kind: 'linear', role: 'online', trainable: true, decay: true, init: truncNormal(2e-5) },
    { name: 'head.bias', torchShape: [K], kind: 'plain', role: 'online', trainable: true, decay: false, init: (_, o) => o.fill(0) },
  ];
}

function truncNormal(std: number) {
  return (rng: Rng, out: Float32Array) => {
    for (let i = 0; i < out.length; i++) {
      let z = rng.normal();
      while (Math.abs(z) > 2) z = rng.normal();
      out[i] = std * z;
    }
  };
}

export class VitClassifier {
  readonly config: VitClassifierConfig;
  readonly specs: ParamSpec[];
  readonly params = new Map<string, tf.Variable>();
  readonly grid: number;
  /** [1, 1 + g², D] fixed */
  private posEmbed: tf.Tensor;
  private disposed = false;

  constructor(config: VitClassifierConfig, seed = 0) {
    this.config = config;
    this.grid = config.imgSize / config.patchSize;
    this.specs = classifierParamSpecs(config);
    const rng = new Rng(seed);
    for (const s of this.specs) {
      const v = new Float32Array(s.torchShape.reduce((a, b) => a * b, 1));
      s.init(rng, v);
      this.params.set(s.name, newVariable(tf.tensor(fromTorch(s, v), ourShape(s)), s.trainable));
    }
    this.posEmbed = tf.tensor(sincosPosEmbed2d(config.embedDim, this.grid), [1, 1 + this.grid ** 2, config.embedDim]);
  }

  trainableNames(): string[] {
    return this.specs.filter((s) => s.trainable).map((s) => s.name);
  }

  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  /**
   * Patch embedding as a linear on flattened patches (the stride-p conv, written so its gradient
   * runs on the fast untransposed matMul): [N, S, S, 3] → [N, 1 + g², D] with cls and position.
   */
  embed(x: tf.Tensor4D): tf.Tensor3D {
    const { patchSize: p, embedDim: D } = this.config;
    const n = x.shape[0];
    const g = x.shape[1] / p;
    if (g !== this.grid || x.shape[2] !== x.shape[1])
      throw new Error(`classifier expects ${this.config.imgSize}×${this.config.imgSize} images, got ${x.shape[1]}×${x.shape[2]}`);
    // [N, g, p, g, p, 3] → [N, g, g, p, p, 3]: each row is a patch in the conv filter's (ky, kx, c) order
    const patches = tf.reshape(tf.transpose(tf.reshape(x, [n, g, p, g, p, 3]), [0, 1, 3, 2, 4, 5]), [n * g * g, p * p * 3]);
    const w = tf.reshape(this.p('patch_embed.proj.weight'), [p * p * 3, D]);
    const tokens = tf.reshape(linear(patches, w, this.p('patch_embed.proj.bias')), [n, g * g, D]);
    const cls = tf.tile(this.p('cls_token'), [n, 1, 1]);
    return tf.add(tf.concat([cls, tokens], 1), this.posEmbed) as tf.Tensor3D;
  }

  /** `keep` [N, 1, 1] scales each sample's residual branches (0 or 1/(1 − rate)); undefined = no drop. */
  block(x: tf.Tensor, i: number, keep?: [tf.Tensor, tf.Tensor]): tf.Tensor {
    const P = (n: string) => this.p(`blocks.${i}.${n}`);
    const D = x.shape[2]!;
    const h = layerNorm(x, P('norm1.weight'), P('norm1.bias'));
    const qkv = linear(h, P('attn.qkv.weight'), P('attn.qkv.bias'));
    const [q, k, v] = tf.split(qkv, [D, D, D], 2).map((t) => splitHeads(t, this.config.numHeads));
    let a = linear(mergeHeads(attention(q, k, v)), P('attn.proj.weight'), P('attn.proj.bias'));
    if (keep) a = tf.mul(a, keep[0]);
    x = tf.add(x, a);
    const h2 = layerNorm(x, P('norm2.weight'), P('norm2.bias'));
    let m = linear(gelu(linear(h2, P('mlp.fc1.weight'), P('mlp.fc1.bias'))), P('mlp.fc2.weight'), P('mlp.fc2.bias'));
    if (keep) m = tf.mul(m, keep[1]);
    return tf.add(x, m);
  }

  /** Tokens after the blocks, before any norm: [N, 1 + g², D]. `rng` given = training (drop path on). */
  forwardBlocks(x: tf.Tensor4D, rng?: Rng): tf.Tensor3D {
    let t: tf.Tensor = this.embed(x);
    const rates = dropPathRates(this.config.dropPath, this.config.depth);
    const n = x.shape[0];
    for (let i = 0; i < this.config.depth; i++) {
      const keep = rng && rates[i] > 0 ? ([dropMask(rng, n, rates[i]), dropMask(rng, n, rates[i])] as [tf.Tensor, tf.Tensor]) : undefined;
      t = this.block(t, i, keep);
    }
    return t as tf.Tensor3D;
  }

  /** The encoder as CIM pre-trains it (blocks, then `norm`): [N, 1 + g², D]. Drop path off. */
  forwardEncoder(x: tf.Tensor4D): tf.Tensor3D {
    return layerNorm(this.forwardBlocks(x), this.p('norm.weight'), this.p('norm.bias')) as tf.Tensor3D;
  }

  /** Mean of the patch tokens (cls excluded): [N, 1 + g², D] → [N, D]. */
  static meanPatchTokens(tokens: tf.Tensor3D): tf.Tensor2D {
    const [n, l, d] = tokens.shape;
    return tf.mean(tf.slice(tokens, [0, 1, 0], [n, l - 1, d]), 1) as tf.Tensor2D;
  }

  /** Logits [N, numClasses]; `rng` given = training mode (drop path). */
  forward(x: tf.Tensor4D, rng?: Rng): tf.Tensor2D {
    const pooled = VitClassifier.meanPatchTokens(this.forwardBlocks(x, rng));
    const f = layerNorm(pooled, this.p('fc_norm.weight'), this.p('fc_norm.bias'));
    return linear(f, this.p('head.weight'), this.p('head.bias')) as tf.Tensor2D;
  }

  /**
   * Load a CIM encoder: `online` reads patch_embed.* / blocks.* / norm.*, `target` their momentum
   * twins patch_embed_c.* / blocks_c.* / norm_c.* (cls_token has no twin: shared). fc_norm and head
   * stay as initialised. A `pos_embed` buffer, when present, is resized to this grid.
   */
  loadEncoder(get: StateGetter, which: EncoderChoice = 'online'): { loaded: number } {
    let loaded = 0;
    for (const s of this.specs) {
      if (s.name.startsWith('fc_norm.') || s.name.startsWith('head.')) continue;
      const src = which === 'target' && s.name !== 'cls_token' ? targetNameOf(s.name) : s.name;
      this.assign(s, get(src), src);
      loaded++;
    }
    this.loadPosEmbed(get);
    return { loaded };
  }

  /** Load every parameter of a classifier (our fine-tuning checkpoint). */
  loadStateDict(get: StateGetter): void {
    for (const s of this.specs) this.assign(s, get(s.name), s.name);
    this.loadPosEmbed(get);
  }

  private assign(s: ParamSpec, src: ReturnType<StateGetter>, srcName: string): void {
    if (!src) throw new Error(`checkpoint lacks parameter ${srcName}`);
    if (src.shape.join('×') !== s.torchShape.join('×')) {
      throw new Error(`parameter ${srcName}: checkpoint shape ${src.shape.join('×')}, classifier expects ${s.torchShape.join('×')}`);
    }
    assignValues(this.p(s.name), fromTorch(s, src.data));
  }

  private loadPosEmbed(get: StateGetter): void {
    const pe = get('pos_embed');
    if (!pe) return;
    const D = this.config.embedDim;
    if (pe.shape.length !== 3 || pe.shape[2] !== D) throw new Error(`pos_embed shape ${pe.shape.join('×')} does not fit embedDim ${D}`);
    const resized = resizePosEmbed(pe.data, D, this.grid);
    this.posEmbed.dispose();
    this.posEmbed = tf.tensor(resized, [1, 1 + this.grid ** 2, D]);
  }

  /** PyTorch names and layout, with `pos_embed`. */
  async stateDict(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const s of this.specs) out.set(s.name, { shape: s.torchShape, data: toTorch(s, (await this.p(s.name).data()) as Float32Array) });
    out.set('pos_embed', { shape: this.posEmbed.shape, data: (await this.posEmbed.data()) as Float32Array });
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    this.posEmbed.dispose();
  }
}

/** [N, 1, 1]: 0 with probability `rate`, else 1/(1 − rate) (timm's drop_path, scale_by_keep). */
function dropMask(rng: Rng, n: number, rate: number): tf.Tensor {
  const keep = 1 - rate;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.random() < keep ? 1 / keep : 0;
  return tf.tensor(v, [n, 1, 1]);
}
