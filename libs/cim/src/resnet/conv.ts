/**
 * Convolution for the ResNet backbone. On wasm (kernel-style `untransposed`): im2col + one 2-D
 * matMul with a hand-written gradient — wasm has Conv2D and Conv2DBackpropInput but no
 * Conv2DBackpropFilter, so tf.conv2d cannot be trained there, and the product's backward
 * materializes its transposes as `linear` in model/layers.ts does. Elsewhere (`native`): tf.conv2d
 * and its own gradients; on tensorflow, libtensorflow's Conv2D with the padding given to the
 * kernel (tf-kernels.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { customGradient as custom, matMulGrads, nativeKernels } from '../nn/kernel-style.ts';
import { fusedTfKernels, tfConv2d } from './tf-kernels.ts';

/** y = x·W for x [M, K], W [K, O], no bias. Backward: dx = dy·Wᵀ, dW = xᵀ·dy (kernel-style.ts). */
export const matMulFast = custom<[tf.Tensor, tf.Tensor]>((x, w, save) => {
  save([x, w]);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => matMulGrads(dy as tf.Tensor2D, xs as tf.Tensor2D, ws as tf.Tensor2D),
  };
});

export function convOutSide(side: number, k: number, stride: number, pad: number): number {
  return Math.floor((side + 2 * pad - k) / stride) + 1;
}

/** Every stride-th row of a [R, stride, rest] view: x [R·stride·rest] reshaped → [R, rest]. */
function takeFirst(x: tf.Tensor, rows: number, stride: number, rest: number): tf.Tensor {
  return tf.reshape(tf.slice(tf.reshape(x, [rows, stride, rest]), [0, 0, 0], [rows, 1, rest]), [rows, rest]);
}

/**
 * x [N, H, W, C] → patches [N·H'·W', kh·kw·C], columns ordered (ky, kx, c), the row-major order of a
 * tfjs conv filter [kh, kw, C, O]. Zero padding `pad` on every side (PyTorch's Conv2d padding).
 * Only pad, slice, reshape and concat: all have gradients on every backend.
 */
export function im2col(x: tf.Tensor4D, kh: number, kw: number, stride: number, pad: number): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const ho = convOutSide(h, kh, stride, pad);
  const wo = convOutSide(w, kw, stride, pad);
  if (kh === 1 && kw === 1 && pad === 0 && stride === 1) return tf.reshape(x, [n * h * w, c]);
  // rows ky .. ky + stride·ho − 1 must exist: pad the bottom/right beyond `pad` where needed
  const extraH = Math.max(0, kh - 1 + stride * ho - (h + 2 * pad));
  const extraW = Math.max(0, kw - 1 + stride * wo - (w + 2 * pad));
  const xp =
    pad > 0 || extraH > 0 || extraW > 0
      ? tf.pad(x, [
          [0, 0],
          [pad, pad + extraH],
          [pad, pad + extraW],
          [0, 0],
        ])
      : x;
  const cols: tf.Tensor[] = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      let piece: tf.Tensor = tf.slice(xp, [0, ky, kx, 0], [n, stride * ho, stride * wo, c]);
      if (stride > 1) {
        piece = takeFirst(piece, n * ho, stride, stride * wo * c); // [N·H', s·W'·C]: rows subsampled
        piece = takeFirst(piece, n * ho * wo, stride, c); // [N·H'·W', C]: columns subsampled
      } else piece = tf.reshape(piece, [n * ho * wo, c]);
      cols.push(piece);
    }
  }
  return (cols.length === 1 ? cols[0] : tf.concat(cols, 1)) as tf.Tensor2D;
}

/**
 * 2-D convolution, no bias: x [N, H, W, C], filter [kh, kw, C, O] (tfjs layout) → [N·H'·W', O] and
 * the output grid. Returned flat so BatchNorm and ReLU run on [M, C] without reshapes.
 */
export function conv2dFlat(x: tf.Tensor4D, filter: tf.Tensor, stride: number, pad: number): { y: tf.Tensor2D; h: number; w: number } {
  const [kh, kw, c, o] = filter.shape;
  const h = convOutSide(x.shape[1], kh, stride, pad);
  const w = convOutSide(x.shape[2], kw, stride, pad);
  if (fusedTfKernels()) {
    const y4 = tfConv2d(x, filter, stride, pad);
    return { y: tf.reshape(y4, [x.shape[0] * h * w, o]) as tf.Tensor2D, h, w };
  }
  if (nativeKernels()) {
    const y4 = tf.conv2d(padSpatial(x, pad), filter as tf.Tensor4D, stride, 'valid');
    return { y: tf.reshape(y4, [x.shape[0] * h * w, o]) as tf.Tensor2D, h, w };
  }
  const cols = im2col(x, kh, kw, stride, pad);
  const y = matMulFast(cols, tf.reshape(filter, [kh * kw * c, o])) as tf.Tensor2D;
  return { y, h, w };
}

/** The same as a 4-D tensor [N, H', W', O]. */
export function conv2dIm2col(x: tf.Tensor4D, filter: tf.Tensor, stride: number, pad: number): tf.Tensor4D {
  const { y, h, w } = conv2dFlat(x, filter, stride, pad);
  return tf.reshape(y, [x.shape[0], h, w, filter.shape[3]!]);
}

/**
 * PyTorch's MaxPool2d(k, stride, padding): PyTorch pads with −∞. Inputs here follow a ReLU (≥ 0),
 * so zero padding gives the same maximum. wasm has MaxPool and MaxPoolGrad.
 */
export function maxPoolAfterRelu(x: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  return tf.maxPool(padSpatial(x, pad), k, stride, 'valid');
}

/** zero padding of `pad` on both spatial sides of NHWC `x` (x itself when pad is 0) */
function padSpatial(x: tf.Tensor4D, pad: number): tf.Tensor4D {
  return pad > 0
    ? tf.pad(x, [
        [0, 0],
        [pad, pad],
        [pad, pad],
        [0, 0],
      ])
    : x;
}
