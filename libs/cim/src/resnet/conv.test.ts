import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers wasm's kernel list, read by the gradient test
import { Rng } from '../rng.ts';
import { conv2dIm2col, convOutSide, im2col, maxPoolAfterRelu } from './conv.ts';
import { setKernelStyle } from '../nn/kernel-style.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();
// this file tests the im2col path (wasm's) on whatever backend runs it; the native path is
// compared with it in model/kernel-style.test.ts
setKernelStyle('untransposed');

/** tf.conv2d with PyTorch's zero padding, as explicit pad + 'valid' (every backend takes that) */
function conv2dRef(x: tf.Tensor4D, f: tf.Tensor4D, s: number, p: number): tf.Tensor {
  return tf.conv2d(
    p > 0
      ? tf.pad(x, [
          [0, 0],
          [p, p],
          [p, p],
          [0, 0],
        ])
      : x,
    f,
    s,
    'valid',
  );
}

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor(v, shape);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

// [k, stride, pad, H, W]: 1×1 (projection and strided downsample), 3×3 same / strided / valid, the 7×7/2 stem, odd sides
const CASES: Array<[number, number, number, number, number]> = [
  [1, 1, 0, 8, 8],
  [1, 2, 0, 8, 7],
  [3, 1, 1, 8, 8],
  [3, 2, 1, 8, 8],
  [3, 2, 1, 9, 7],
  [3, 2, 0, 9, 9],
  [3, 1, 0, 6, 5],
  [7, 2, 3, 16, 16],
  [5, 3, 2, 11, 10],
];

test('im2col conv equals tf.conv2d forward within 1e-5 of the output scale for every kernel/stride/padding case', (t) => {
  let worst = 0;
  CASES.forEach(([k, s, p, h, w], i) => {
    const [n, c, o] = [2, 3, 5];
    const x = randn([n, h, w, c], 10 + i) as tf.Tensor4D;
    const f = randn([k, k, c, o], 50 + i) as tf.Tensor4D;
    const ours = conv2dIm2col(x, f, s, p);
    const ref = conv2dRef(x, f, s, p);
    assert.deepEqual(ours.shape, ref.shape, `case ${i} shape`);
    assert.deepEqual(ours.shape, [n, convOutSide(h, k, s, p), convOutSide(w, k, s, p), o]);
    // float32 sums of k·k·C products: the rounding error scales with the outputs' magnitude
    const scale = Math.max(1, ...Array.from(ref.dataSync(), Math.abs));
    const d = maxAbsDiff(ours.dataSync(), ref.dataSync()) / scale;
    assert.ok(d < 1e-5, `case k${k} s${s} p${p} ${h}×${w}: max |Δ| / max |y| ${d}`);
    worst = Math.max(worst, d);
    tf.dispose([x, f, ours, ref]);
  });
  t.diagnostic(`forward: worst max |Δ| / max |y| over ${CASES.length} cases ${worst.toExponential(2)}`);
});

test('im2col columns are ordered (ky, kx, c) like a tfjs filter [kh, kw, C, O]', () => {
  // x[0, y, x, c] = 100y + 10x + c; the 3×3 window at output (1, 1), stride 1, pad 0, starts at (1, 1)
  const v = new Float32Array(4 * 4 * 2);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 2; c++) v[(y * 4 + x) * 2 + c] = 100 * y + 10 * x + c;
  const cols = im2col(tf.tensor4d(v, [1, 4, 4, 2]), 3, 3, 1, 0);
  assert.deepEqual(cols.shape, [4, 18]);
  const row = Array.from(cols.dataSync().slice(3 * 18, 4 * 18));
  const want: number[] = [];
  for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let c = 0; c < 2; c++) want.push(100 * (1 + ky) + 10 * (1 + kx) + c);
  assert.deepEqual(row, want);
  cols.dispose();
});

/** dL/dW for L = Σ conv(x, W)·r, by the definition: Σ_{n,y,x} xpad[n, s·y+ky, s·x+kx, ci]·r[n, y, x, co]. */
function filterGradRef(x: Float32Array, r: Float32Array, [n, h, w, c]: number[], k: number, s: number, p: number, o: number): Float64Array {
  const ho = convOutSide(h, k, s, p);
  const wo = convOutSide(w, k, s, p);
  const g = new Float64Array(k * k * c * o);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < ho; y++)
      for (let xx = 0; xx < wo; xx++)
        for (let ky = 0; ky < k; ky++)
          for (let kx = 0; kx < k; kx++) {
            const iy = s * y + ky - p;
            const ix = s * xx + kx - p;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (let ci = 0; ci < c; ci++) {
              const xv = x[((b * h + iy) * w + ix) * c + ci];
              for (let co = 0; co < o; co++) g[((ky * k + kx) * c + ci) * o + co] += xv * r[((b * ho + y) * wo + xx) * o + co];
            }
          }
  return g;
}

test('im2col conv gradients: dx equals tf.grad of tf.conv2d (Conv2DBackpropInput), dW equals the definition, within 1e-4', (t) => {
  let [wx, ww] = [0, 0];
  const kernels = tf.getKernelsForBackend('wasm').map((kk) => kk.kernelName);
  assert.ok(kernels.includes('Conv2DBackpropInput'));
  assert.ok(!kernels.includes('Conv2DBackpropFilter'), 'the reason for im2col: wasm cannot give tf.conv2d a filter gradient');
  CASES.forEach(([k, s, p, h, w], i) => {
    const [n, c, o] = [2, 3, 4];
    const x = randn([n, h, w, c], 100 + i) as tf.Tensor4D;
    const f = randn([k, k, c, o], 200 + i) as tf.Tensor4D;
    const r = randn([n, convOutSide(h, k, s, p), convOutSide(w, k, s, p), o], 300 + i);
    const [dx, dw] = tf.grads((xx: tf.Tensor, ff: tf.Tensor) => tf.sum(tf.mul(conv2dIm2col(xx as tf.Tensor4D, ff, s, p), r)))([x, f]);
    const dxRef = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(conv2dRef(xx as tf.Tensor4D, f, s, p), r)))(x);
    const ddx = maxAbsDiff(dx.dataSync(), dxRef.dataSync());
    const ddw = maxAbsDiff(dw.dataSync(), filterGradRef(x.dataSync() as Float32Array, r.dataSync() as Float32Array, x.shape, k, s, p, o));
    assert.ok(ddx < 1e-4, `case ${i} dx max |Δ| ${ddx}`);
    assert.ok(ddw < 1e-4, `case ${i} dW max |Δ| ${ddw}`);
    [wx, ww] = [Math.max(wx, ddx), Math.max(ww, ddw)];
    tf.dispose([x, f, r, dx, dw, dxRef]);
  });
  t.diagnostic(`gradients: worst max |Δ| dx ${wx.toExponential(2)}, dW ${ww.toExponential(2)}`);
});

test('maxPoolAfterRelu equals PyTorch MaxPool2d(3, 2, padding 1) (−∞ padding) on ReLU outputs', () => {
  const x = tf.relu(randn([2, 8, 7, 3], 7)) as tf.Tensor4D;
  const y = maxPoolAfterRelu(x, 3, 2, 1);
  assert.deepEqual(y.shape, [2, 4, 4, 3]);
  const xv = x.dataSync();
  const want: number[] = [];
  for (let b = 0; b < 2; b++)
    for (let oy = 0; oy < 4; oy++)
      for (let ox = 0; ox < 4; ox++)
        for (let c = 0; c < 3; c++) {
          let m = -Infinity;
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const iy = 2 * oy + ky - 1;
              const ix = 2 * ox + kx - 1;
              if (iy >= 0 && iy < 8 && ix >= 0 && ix < 7) m = Math.max(m, xv[((b * 8 + iy) * 7 + ix) * 3 + c]);
            }
          want.push(m);
        }
  assert.equal(maxAbsDiff(y.dataSync(), want), 0);
  tf.dispose([x, y]);
});
