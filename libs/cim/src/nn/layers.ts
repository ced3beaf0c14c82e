/**
 * The layers of a ViT and of the CIM correlation decoder, with hand-written gradients for the dense
 * layers, GELU and LayerNorm (one pass of reductions; the dense products in the style of
 * kernel-style.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { customGradient as custom, matMulGrads } from './kernel-style.ts';

export const LN_EPS = 1e-6;

/**
 * y = x·W + b with x [N, in], W [in, out] (PyTorch's Linear weight transposed), b [out].
 * Backward: dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ dy.
 */
export const linear2d = custom<[tf.Tensor, tf.Tensor, tf.Tensor]>((x, w, b, save) => {
  save([x, w]);
  const value = tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const dy2 = dy as tf.Tensor2D;
      return [...matMulGrads(dy2, xs, ws), tf.sum(dy2, 0)];
    },
  };
});

/** Linear on any leading shape: x [..., in] → [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1];
  const outDim = w.shape[1]!;
  const y = linear2d(tf.reshape(x, [-1, inDim]), w, b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Exact GELU, x·Φ(x) with Φ via erf (PyTorch's default, not the tanh form). */
export const gelu = custom<[tf.Tensor]>((x, save) => {
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, SQRT1_2))));
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, [xs, c]: tf.Tensor[]) => {
      // d/dx x·Φ(x) = Φ(x) + x·φ(x)
      const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(xs))));
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
});

/** LayerNorm over the last axis, eps 1e-6, with a hand-written backward (one pass of reductions). */
export const layerNorm = custom<[tf.Tensor, tf.Tensor, tf.Tensor]>((x, gamma, beta, save) => {
  const axis = x.shape.length - 1;
  const mean = tf.mean(x, axis, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), axis, true);
  const rstd = tf.rsqrt(tf.add(variance, LN_EPS));
  const xhat = tf.mul(xc, rstd);
  save([xhat, rstd, gamma]);
  return {
    value: tf.add(tf.mul(xhat, gamma), beta),
    gradFunc: (dy: tf.Tensor, [xh, rs, g]: tf.Tensor[]) => {
      const d = xh.shape[axis]!;
      const lead = Array.from({ length: axis }, (_, i) => i);
      const dgamma = tf.sum(tf.mul(dy, xh), lead);
      const dbeta = tf.sum(dy, lead);
      // dx = rstd/D · (D·dxh − Σdxh − xhat·Σ(dxh·xhat)), dxh = dy·gamma
      const dxh = tf.mul(dy, g);
      const s1 = tf.sum(dxh, axis, true);
      const s2 = tf.sum(tf.mul(dxh, xh), axis, true);
      const dx = tf.mul(tf.div(rs, d), tf.sub(tf.sub(tf.mul(dxh, d), s1), tf.mul(xh, s2)));
      return [dx, dgamma, dbeta];
    },
  };
});

/** [B, N, H·d] → [B, H, N, d] */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [b, n, c] = x.shape;
  return tf.transpose(tf.reshape(x, [b, n, heads, c / heads]), [0, 2, 1, 3]);
}

/** [B, H, N, d] → [B, N, H·d] */
export function mergeHeads(x: tf.Tensor): tf.Tensor {
  const [b, h, n, d] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, n, h * d]);
}

/**
 * softmax(q·kᵀ·scale)·v for q [B, H, Nq, d], k and v [B, H, Nk, d]; scale = d^−½.
 * kᵀ is materialized so the batched product runs without transpose flags.
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor): tf.Tensor {
  const d = q.shape[3]!;
  const [b, h, nq] = q.shape;
  const nk = k.shape[2]!;
  const q3 = tf.reshape(q, [b * h, nq, d]) as tf.Tensor3D;
  const kT = tf.reshape(tf.transpose(k, [0, 1, 3, 2]), [b * h, d, nk]) as tf.Tensor3D;
  const v3 = tf.reshape(v, [b * h, nk, d]) as tf.Tensor3D;
  const scores = tf.mul(tf.matMul(q3, kT), d ** -0.5);
  const attn = tf.softmax(scores);
  return tf.reshape(tf.matMul(attn as tf.Tensor3D, v3), [b, h, nq, d]);
}
