import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // every op's gradient
import { initTestBackend } from '../testing/index.ts';
import { setKernelStyle, type KernelStyle } from './kernel-style.ts';
import { linear } from './layers.ts';
import { conv2dFlat } from '../resnet/conv.ts';

const backend = await initTestBackend();

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / scale;
}

/** value and gradients of f's sum of squares w.r.t. every input, in one kernel style */
function valueAndGrads(
  style: KernelStyle,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
): { value: tf.Tensor; grads: tf.Tensor[] } {
  setKernelStyle(style);
  try {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => tf.sum(tf.square(f(...xs))) as tf.Scalar)(inputs);
    return { value, grads };
  } finally {
    setKernelStyle('auto');
  }
}

function compareStyles(name: string, f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): number {
  const before = tf.memory().numTensors;
  const a = valueAndGrads('untransposed', f, inputs);
  const b = valueAndGrads('native', f, inputs);
  let worst = maxRelDiff(a.value, b.value);
  a.grads.forEach((g, i) => (worst = Math.max(worst, maxRelDiff(g, b.grads[i]))));
  tf.dispose([a.value, b.value, ...a.grads, ...b.grads]);
  assert.equal(tf.memory().numTensors, before, `${name}: no tensors left behind`);
  return worst;
}

test(`both kernel styles compute the same linear layer and gradients on ${backend}`, (t) => {
  const [x, w, b] = [
    tf.randomNormal([37, 24], 0, 1, 'float32', 1),
    tf.randomNormal([24, 19], 0, 1, 'float32', 2),
    tf.randomNormal([19], 0, 1, 'float32', 3),
  ];
  const worst = compareStyles('linear', (xx, ww, bb) => linear(xx, ww, bb), [x, w, b]);
  t.diagnostic(`linear: worst relative difference ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-5, `linear differs by ${worst}`);
  tf.dispose([x, w, b]);
});

test(`both kernel styles compute the same convolutions and gradients on ${backend} (3×3 stride 1 and 2, 7×7 stride 2, 1×1)`, (t) => {
  const x = tf.randomNormal([2, 11, 11, 5], 0, 1, 'float32', 4) as tf.Tensor4D;
  if (backend === 'wasm') {
    // why wasm keeps im2col: tf.conv2d has no filter gradient there
    const f = tf.randomNormal([3, 3, 5, 6]);
    assert.throws(() => valueAndGrads('native', (xx, ff) => conv2dFlat(xx as tf.Tensor4D, ff, 1, 1).y, [x, f]), /Conv2DBackpropFilter/);
    tf.dispose([x, f]);
    return;
  }
  for (const [k, stride, pad] of [
    [3, 1, 1],
    [3, 2, 1],
    [7, 2, 3],
    [1, 1, 0],
    [1, 2, 0],
  ] as const) {
    const filter = tf.randomNormal([k, k, 5, 6], 0, 0.2, 'float32', 5 + k);
    const worst = compareStyles(`conv ${k}×${k}/${stride}`, (xx, ff) => conv2dFlat(xx as tf.Tensor4D, ff, stride, pad).y, [x, filter]);
    t.diagnostic(`conv ${k}×${k} stride ${stride} pad ${pad}: worst relative difference ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-5, `conv ${k}×${k}/${stride} differs by ${worst}`);
    filter.dispose();
  }
  x.dispose();
});
