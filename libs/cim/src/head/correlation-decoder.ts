/**
 * The CIM correlation decoder and loss, for any backbone that yields tokens [B, 1 + g², D]:
 * CimViT and CimResNet both call these over a parameter getter (PyTorch names from
 * `correlationDecoderSpecs`, the decoder's own parameter list). The official decoder:
 * `decoder_embed` on both token sets, the sin-cos `decoder_pos_embed` on the context, one
 * pre-norm cross-attention block (queries from the context, keys/values from the exemplar), `decoder_norm`, drop cls, 1×1 conv to 2 classes,
 * bilinear upsampling with aligned corners.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attention, gelu, layerNorm, linear, mergeHeads, splitHeads } from '../nn/layers.ts';
import { linearSpecs, normal, normSpecs, uniform, type ParamSpec } from '../nn/params.ts';
import { sincosPosEmbed2d } from '../nn/pos-embed.ts';

export interface CorrelationDecoderShape {
  decoderEmbedDim: number;
  decoderNumHeads: number;
  /** side of the context token grid */
  grid: number;
  /** side of the predicted maps (px) */
  contextSize: number;
}

/**
 * The decoder's parameters (decoder_embed: encoderDim → Dd … decoder_pred_mask), in the order the
 * authors' `state_dict` lists them; every backbone puts them between its online and target specs.
 */
export function correlationDecoderSpecs(
  encoderDim: number,
  decoderEmbedDim: number,
  decoderNumHeads: number,
  mlpRatio: number,
): ParamSpec[] {
  const D = encoderDim;
  const Dd = decoderEmbedDim;
  const dHidden = Math.floor(Dd * mlpRatio);
  return [
    ...linearSpecs('decoder_embed', D, Dd, 'decoder', true),
    ...normSpecs('decoder_corr_block.block.norm1', Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.attn.kv', Dd, 2 * Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.attn.q', Dd, Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.attn.proj', Dd, Dd, 'decoder', true),
    ...normSpecs('decoder_corr_block.block.norm2', Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.mlp.fc1', Dd, dHidden, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.mlp.fc2', dHidden, Dd, 'decoder', true),
    ...normSpecs('decoder_norm', Dd, 'decoder', true),
    // Conv2d init of the official _init_weights: normal(0, sqrt(2 / (1·1·out))); bias: PyTorch's default
    {
      name: 'decoder_pred_mask.0.weight',
      torchShape: [2, Dd, 1, 1],
      kind: 'conv1x1',
      role: 'decoder',
      trainable: true,
      decay: true,
      init: normal(Math.sqrt(2 / 2)),
    },
    {
      name: 'decoder_pred_mask.0.bias',
      torchShape: [2],
      kind: 'plain',
      role: 'decoder',
      trainable: true,
      decay: false,
      init: uniform(1 / Math.sqrt(Dd)),
    },
  ];
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
