/**
 * White-box L∞ attacks, as the CIM paper evaluates robustness (Sec. 4, "robustness"):
 *   FGSM  (Goodfellow et al. 2015):  x' = clip₀¹(x + ε · sign(∇ₓ CE(f(x), y)))
 *   PGD   (Madry et al. 2018):       x⁰ = x (+ U(−ε, ε) if randomStart),
 *                                    xᵏ⁺¹ = clip₀¹(Π_{‖·−x‖∞ ≤ ε}(xᵏ + α · sign(∇ CE(f(xᵏ), y))))
 * ε and α are in PIXEL units of [0, 1] (the paper's "ε = 1/255" convention). The attacked images
 * are pixel images; the model sees them normalized ((x − mean) / std, per channel, last axis), so
 * the gradient is taken through the normalization and every step, projection and clip happens in
 * pixel space. Generic over any `(normalized x) => logits` function: tf.grad differentiates it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { IMAGENET_MEAN, IMAGENET_STD, Rng } from '@cim-forge/cim';

/** logits [N, K] of normalized inputs [N, …, C] */
export type LogitsFn = (x: tf.Tensor) => tf.Tensor;

/** Per-channel normalization the model expects: (x − mean) / std on [0, 1] pixels (last axis). */
export interface InputNormalization {
  mean: readonly number[];
  std: readonly number[];
}

export const IMAGENET_NORMALIZATION: InputNormalization = { mean: IMAGENET_MEAN, std: IMAGENET_STD };

export interface AttackOptions {
  /** L∞ radius, pixel units of [0, 1] */
  eps: number;
  /** what the model expects; null = the model takes pixels as they are (default ImageNet) */
  normalization?: InputNormalization | null;
}

export interface PgdOptions extends AttackOptions {
  /** number of steps k */
  steps: number;
  /** step size, pixel units of [0, 1] */
  alpha: number;
  /** start from a uniform random point of the ε-ball (Madry et al.); default false */
  randomStart?: boolean;
  /** seed of the random start */
  seed?: number;
}

function checkEps(eps: number, name = 'eps'): void {
  if (!(Number.isFinite(eps) && eps >= 0 && eps <= 1)) throw new Error(`attack: ${name} must be in [0, 1] (pixel units), got ${eps}`);
}

/** Pixels [N, …, C] in [0, 1] → what the model sees. Inside the caller's tidy. */
export function normalizeInput(x: tf.Tensor, n: InputNormalization | null | undefined): tf.Tensor {
  if (!n) return x;
  const c = x.shape[x.shape.length - 1];
  if (n.mean.length !== c || n.std.length !== c) throw new Error(`attack: normalization has ${n.mean.length} channels, input has ${c}`);
  return tf.div(tf.sub(x, tf.tensor1d([...n.mean])), tf.tensor1d([...n.std]));
}

/** Logits of pixel images through the normalization. Inside the caller's tidy. */
export function logitsOfPixels(forward: LogitsFn, x: tf.Tensor, n: InputNormalization | null | undefined): tf.Tensor {
  return forward(normalizeInput(x, n));
}

/** Summed cross-entropy of logits [N, K] against int labels [N]. */
function crossEntropySum(logits: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  const y = tf.oneHot(labels, logits.shape[1]!);
  return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits as tf.Tensor2D)))) as tf.Scalar;
}

/** ∇ₓ Σ CE(f(norm(x)), y) w.r.t. the pixels x: same shape as x. Inside the caller's tidy. */
export function inputGradient(forward: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, n: InputNormalization | null | undefined): tf.Tensor {
  return tf.grad((xi: tf.Tensor) => crossEntropySum(logitsOfPixels(forward, xi, n), labels))(x);
}

/** FGSM adversarial pixels [N, …, C] of pixels `x` in [0, 1] with int32 `labels` [N]. Caller owns the result. */
export function fgsm(forward: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, o: AttackOptions): tf.Tensor {
  checkEps(o.eps);
  const n = o.normalization === undefined ? IMAGENET_NORMALIZATION : o.normalization;
  return tf.tidy(() => {
    const g = inputGradient(forward, x, labels, n);
    return tf.clipByValue(tf.add(x, tf.mul(tf.sign(g), o.eps)), 0, 1);
  });
}

/** PGD adversarial pixels (L∞, projected onto the ε-ball around x and onto [0, 1] after every step). Caller owns the result. */
export function pgd(forward: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, o: PgdOptions): tf.Tensor {
  checkEps(o.eps);
  checkEps(o.alpha, 'alpha');
  if (!(Number.isInteger(o.steps) && o.steps >= 1)) throw new Error(`pgd: steps must be an integer >= 1, got ${o.steps}`);
  const n = o.normalization === undefined ? IMAGENET_NORMALIZATION : o.normalization;
  const lo = tf.tidy(() => tf.clipByValue(tf.sub(x, o.eps), 0, 1));
  const hi = tf.tidy(() => tf.clipByValue(tf.add(x, o.eps), 0, 1));
  // x ∈ [0, 1], so the intersection of the ε-ball with [0, 1] is the box [lo, hi]: one clip does both projections.
  const project = (t: tf.Tensor) => tf.minimum(tf.maximum(t, lo), hi);
  let adv: tf.Tensor;
  if (o.randomStart) {
    const rng = new Rng(o.seed ?? 0);
    const u = new Float32Array(x.size);
    for (let i = 0; i < u.length; i++) u[i] = rng.uniform(-o.eps, o.eps);
    adv = tf.tidy(() => project(tf.add(x, tf.tensor(u, x.shape))));
  } else {
    adv = tf.clone(x);
  }
  for (let k = 0; k < o.steps; k++) {
    const prev = adv;
    adv = tf.tidy(() => {
      const g = inputGradient(forward, prev, labels, n);
      return project(tf.add(prev, tf.mul(tf.sign(g), o.alpha)));
    });
    prev.dispose();
  }
  tf.dispose([lo, hi]);
  return adv;
}
