/**
 * BatchNorm2d on channels-last activations flattened to [M, C] (M = N·H·W), PyTorch semantics:
 * training normalizes with the biased batch variance and updates the running statistics with the
 * unbiased one, r ← (1 − momentum)·r + momentum·batch; eval normalizes with the running statistics.
 * The training path has a hand-written gradient (the layerNorm one of model/layers.ts, reduced
 * over axis 0 instead of the last axis): one pass of reductions, no FusedBatchNorm kernel needed.
 * On the tensorflow backend both modes run libtensorflow's FusedBatchNormV2 and its gradient
 * (tf-kernels.ts), which compute the same values.
 */
import * as tf from '@tensorflow/tfjs-core';
import { customGradient as custom } from '../nn/kernel-style.ts';
import { fusedTfKernels, tfBatchNormEval, tfBatchNormTrain } from './tf-kernels.ts';

/** y = (x − mean)/√(var + eps)·γ + β with batch statistics over axis 0; x [M, C], γ and β [C]. */
export function batchNormTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  if (fusedTfKernels()) return tf.tidy(() => tfBatchNormTrain(x, gamma, beta, eps).y);
  return bnTrain(eps)(x, gamma, beta);
}

const bnCache = new Map<number, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor>();
function bnTrain(eps: number) {
  let f = bnCache.get(eps);
  if (f) return f;
  f = custom<[tf.Tensor, tf.Tensor, tf.Tensor]>((x, gamma, beta, save) => {
    const mean = tf.mean(x, 0, true);
    const xc = tf.sub(x, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(xc), 0, true), eps));
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, gamma]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      gradFunc: (dy: tf.Tensor, [xh, rs, g]: tf.Tensor[]) => {
        const m = xh.shape[0];
        // dx = rstd/M · (M·dxh − Σdxh − xhat·Σ(dxh·xhat)), dxh = dy·γ, sums over axis 0
        const dxh = tf.mul(dy, g);
        const s1 = tf.sum(dxh, 0, true);
        const s2 = tf.sum(tf.mul(dxh, xh), 0, true);
        const dx = tf.mul(tf.div(rs, m), tf.sub(tf.sub(tf.mul(dxh, m), s1), tf.mul(xh, s2)));
        return [dx, tf.sum(tf.mul(dy, xh), 0), tf.sum(dy, 0)];
      },
    };
  });
  bnCache.set(eps, f);
  return f;
}

export interface BatchNormState {
  gamma: tf.Tensor;
  beta: tf.Tensor;
  runningMean: tf.Variable;
  runningVar: tf.Variable;
}

/**
 * x [M, C]. Training: batch statistics, and the running statistics are updated in place (no
 * gradient flows into them). Eval: running statistics.
 */
export function batchNorm(x: tf.Tensor, s: BatchNormState, training: boolean, eps: number, momentum: number): tf.Tensor {
  if (fusedTfKernels()) {
    if (!training) return tfBatchNormEval(x, s.gamma, s.beta, s.runningMean, s.runningVar, eps);
    const m = x.shape[0];
    const r = tfBatchNormTrain(x, s.gamma, s.beta, eps);
    tf.tidy(() => {
      // the kernel's variance is already the unbiased one (m/(m − 1)·biased); m = 1 gives PyTorch's NaN-free biased 0 below
      const unbiased = m > 1 ? r.variance : tf.zerosLike(r.variance);
      s.runningMean.assign(tf.add(tf.mul(s.runningMean, 1 - momentum), tf.mul(r.mean, momentum)));
      s.runningVar.assign(tf.add(tf.mul(s.runningVar, 1 - momentum), tf.mul(unbiased, momentum)));
    });
    tf.dispose([r.mean, r.variance]);
    return r.y;
  }
  if (!training) {
    return tf.add(tf.mul(tf.sub(x, s.runningMean), tf.mul(tf.rsqrt(tf.add(s.runningVar, eps)), s.gamma)), s.beta);
  }
  const m = x.shape[0];
  tf.tidy(() => {
    const { mean, variance } = tf.moments(x, 0);
    const unbiased = m > 1 ? tf.mul(variance, m / (m - 1)) : variance;
    s.runningMean.assign(tf.add(tf.mul(s.runningMean, 1 - momentum), tf.mul(mean, momentum)));
    s.runningVar.assign(tf.add(tf.mul(s.runningVar, 1 - momentum), tf.mul(unbiased, momentum)));
  });
  return batchNormTrain(x, s.gamma, s.beta, eps);
}
