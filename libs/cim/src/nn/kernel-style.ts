/**
 * How the models' heaviest products run, and the one custom-gradient helper they share.
 *
 * - `untransposed` (wasm's fast path): every dense product runs as an untransposed 2-D matMul,
 *   forward and backward — the gradients materialize the transposes, O(n²), because matMul's
 *   transpose flags run ~15× slower on wasm — and convolutions run as im2col + one matMul
 *   (wasm has no Conv2DBackpropFilter; docs/perf-notes.md).
 * - `native` (tensorflow, cpu, webgpu): transposes ride on matMul's flags and convolutions are
 *   tf.conv2d with its own gradients, which libtensorflow's kernels run at full speed.
 * - `auto`: `untransposed` on wasm, `native` elsewhere, decided at each call.
 * `npm run bench:train -- --kernels compare` measures both in one process (docs/benchmarks.md).
 */
import * as tf from '@tensorflow/tfjs-core';

export type KernelStyle = 'auto' | 'untransposed' | 'native';
let style: KernelStyle = 'auto';

/** Choose the kernel style (benchmarks and tests; `auto` otherwise). */
export function setKernelStyle(s: KernelStyle): void {
  style = s;
}

/** True when the active style is `native` (or `auto` on a backend other than wasm). */
export function nativeKernels(): boolean {
  return style === 'native' || (style === 'auto' && tf.getBackend() !== 'wasm');
}

type GradResult = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] };

/** tf.customGrad with positional tensor arguments (tfjs types them as a union with the save function). */
export function customGradient<A extends tf.Tensor[]>(f: (...args: [...A, tf.GradSaveFunc]) => GradResult): (...args: A) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...args: A) => tf.Tensor;
}

/** The gradients of y = x·W (x [M, K], W [K, O]) for dy [M, O]: [dx, dW], in the active style. */
export function matMulGrads(dy: tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor2D): [tf.Tensor, tf.Tensor] {
  if (nativeKernels()) return [tf.matMul(dy, w, false, true), tf.matMul(x, dy, true, false)];
  return [tf.matMul(dy, tf.transpose(w)), tf.matMul(tf.transpose(x), dy)];
}
