/**
 * The CIM correlation decoder and loss, for any backbone that yields tokens [B, 1 + g², D]:
 * CimViT and CimResNet both call these over a parameter getter (PyTorch names from
 * `cimParamSpecs`). The official decoder: `decoder_embed` on both token sets, the sin-cos
 * `decoder_pos_embed` on the context, one pre-norm cross-attention block (queries from the
 * context, keys/values from the exemplar), `decoder_norm`, drop cls, 1×1 conv to 2 classes,
 * bilinear upsampling with aligned corners.
 */
import * as tf from '@tensorflow/tfjs-core';
import { cimParamSpecs, type ParamSpec } from './params.ts';
import { attention, gelu, layerNorm, linear, mergeHeads, splitHeads } from './layers.ts';
import { sincosPosEmbed2d } from './pos-embed.ts';

export interface CorrelationDecoderShape {
  decoderEmbedDim: number;
  decoderNumHeads: number;
  /** side of the context token grid */
  grid: number;
  /** side of the predicted maps (px) */
  contextSize: number;
}

/** decoder_embed (encoderDim → Dd) … decoder_pred_mask, exactly CimViT's decoder specs. */
export function correlationDecoderSpecs(
  encoderDim: number,
  decoderEmbedDim: number,
  decoderNumHeads: number,
  mlpRatio: number,
): ParamSpec[] {
  const shell = {
    imgSize: 1,
    patchSize: 1,
    embedDim: encoderDim,
    depth: 0,
    numHeads: 1,
    mlpRatio,
    decoderEmbedDim,
    decoderNumHeads,
    contextSize: 1,
    templateSize: 1,
    numTemplates: 1,
  };
  return cimParamSpecs(shell).filter((s) => s.role === 'decoder');
}

/** Fixed 2-D sin-cos embedding of the context grid with a zero cls row: [1, 1 + g², Dd]. */
export function decoderPosEmbed(decoderEmbedDim: number, grid: number): tf.Tensor3D {
  return tf.tensor3d(sincosPosEmbed2d(decoderEmbedDim, grid), [1, 1 + grid * grid, decoderEmbedDim]);
}

/**
 * ctx [B, 1 + g², D] (target encoder), tmpl [T·B, 1 + Nt, D] (online encoder, template-major)
 * → logits [T·B, C, C, 2]. The context's embedding, norm1 and q projection run once, shared by
 * every template.
 */
export function forwardCorrelationDecoder(
  P: (name: string) => tf.Tensor,
  posEmbed: tf.Tensor,
  s: CorrelationDecoderShape,
  ctx: tf.Tensor3D,
  tmpl: tf.Tensor3D,
): tf.Tensor4D {
  const B = ctx.shape[0];
  const H = s.decoderNumHeads;
  const Dd = s.decoderEmbedDim;
  const T = tmpl.shape[0] / B;
  const Nx = ctx.shape[1];
  const g = s.grid;
  if (Nx !== 1 + g * g) throw new Error(`correlation decoder: context has ${Nx} tokens, expected 1 + ${g}² for a ${g}×${g} grid`);
  if (!Number.isInteger(T)) throw new Error(`correlation decoder: ${tmpl.shape[0]} templates is not a multiple of batch ${B}`);
  const B_ = (n: string) => P(`decoder_corr_block.block.${n}`);

  const x = tf.add(linear(ctx, P('decoder_embed.weight'), P('decoder_embed.bias')), posEmbed); // [B, Nx, Dd]
  const t = linear(tmpl, P('decoder_embed.weight'), P('decoder_embed.bias')); // [TB, Nt, Dd]
  const xn = layerNorm(x, B_('norm1.weight'), B_('norm1.bias'));
  const tn = layerNorm(t, B_('norm1.weight'), B_('norm1.bias'));
  const q = splitHeads(linear(xn, B_('attn.q.weight'), B_('attn.q.bias')), H); // [B, H, Nx, d]
  const kv = linear(tn, B_('attn.kv.weight'), B_('attn.kv.bias')); // [TB, Nt, 2Dd]
  const [k, v] = tf.split(kv, [Dd, Dd], 2).map((z) => splitHeads(z, H));
  const qT = tileTemplates(q, T); // [TB, H, Nx, d]
  const a = linear(mergeHeads(attention(qT, k, v)), B_('attn.proj.weight'), B_('attn.proj.bias')); // [TB, Nx, Dd]
  let y = tf.add(tileTemplates(x, T), a);
  const h2 = layerNorm(y, B_('norm2.weight'), B_('norm2.bias'));
  y = tf.add(y, linear(gelu(linear(h2, B_('mlp.fc1.weight'), B_('mlp.fc1.bias'))), B_('mlp.fc2.weight'), B_('mlp.fc2.bias')));
  y = layerNorm(y, P('decoder_norm.weight'), P('decoder_norm.bias'));
  const patches = tf.slice(y, [0, 1, 0], [T * B, Nx - 1, Dd]); // drop cls
  const logits = linear(patches, P('decoder_pred_mask.0.weight'), P('decoder_pred_mask.0.bias')); // 1×1 conv
  const grid = tf.reshape(logits, [T * B, g, g, 2]) as tf.Tensor4D;
  return tf.image.resizeBilinear(grid, [s.contextSize, s.contextSize], true);
}

/**
 * Σ over templates of the mean per-pixel 2-class cross-entropy (CimViT.forwardLoss): logits
 * [T·B, C, C, 2], masks [T·B, C, C] in {0, 1}; with d = l₁ − l₀, CE = softplus((1 − 2y)·d).
 */
export function correlationLoss(logits: tf.Tensor4D, masks: tf.Tensor3D, batchSize: number): tf.Scalar {
  const [l0, l1] = tf.split(logits, 2, 3);
  const d = tf.reshape(tf.sub(l1, l0), masks.shape);
  const perPixel = tf.softplus(tf.mul(tf.sub(1, tf.mul(2, masks)), d));
  return tf.div(tf.sum(perPixel), batchSize * masks.shape[1] * masks.shape[2]) as tf.Scalar;
}

/** [B, ...] → [T·B, ...], template-major. */
function tileTemplates(x: tf.Tensor, T: number): tf.Tensor {
  if (T === 1) return x;
  return tf.tile(x, [T, ...x.shape.slice(1).map(() => 1)]);
}
