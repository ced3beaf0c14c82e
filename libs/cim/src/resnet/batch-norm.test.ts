import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { Rng } from '../rng.ts';
import { newVariable } from '../nn/tensors.ts';
import { batchNorm, batchNormTrain, type BatchNormState } from './batch-norm.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

const [M, C, EPS] = [24, 5, 1e-5];

function data(seed: number, shift = 0): Float32Array {
  const rng = new Rng(seed);
  const v = new Float32Array(M * C);
  for (let i = 0; i < v.length; i++) v[i] = 3 * rng.normal() + shift + (i % C);
  return v;
}

/** Per-channel mean and biased variance in float64. */
function stats(x: Float32Array): { mean: number[]; varB: number[] } {
  const mean = new Array(C).fill(0);
  const varB = new Array(C).fill(0);
  for (let i = 0; i < M; i++) for (let c = 0; c < C; c++) mean[c] += x[i * C + c] / M;
  for (let i = 0; i < M; i++) for (let c = 0; c < C; c++) varB[c] += (x[i * C + c] - mean[c]) ** 2 / M;
  return { mean, varB };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function state(): BatchNormState {
  return {
    gamma: tf.tensor1d([1, 0.5, 2, -1, 1.5]),
    beta: tf.tensor1d([0, 1, -1, 0.25, 2]),
    runningMean: newVariable(tf.zeros([C]), false),
    runningVar: newVariable(tf.ones([C]), false),
  };
}

test('training forward equals (x − mean)/√(var_biased + eps)·γ + β; running stats follow PyTorch (momentum 0.1, unbiased var)', (t) => {
  const s = state();
  const g = s.gamma.dataSync();
  const b = s.beta.dataSync();
  const x1 = data(1);
  const x2 = data(2, 4);
  const y = batchNorm(tf.tensor2d(x1, [M, C]), s, true, EPS, 0.1);
  const st1 = stats(x1);
  const want = Array.from(x1, (v, i) => ((v - st1.mean[i % C]) / Math.sqrt(st1.varB[i % C] + EPS)) * g[i % C] + b[i % C]);
  const dy = maxAbsDiff(y.dataSync(), want);
  assert.ok(dy < 1e-5, `forward max |Δ| ${dy}`);

  batchNorm(tf.tensor2d(x2, [M, C]), s, true, EPS, 0.1);
  const st2 = stats(x2);
  const unb = (v: number) => (v * M) / (M - 1);
  const rmWant = st1.mean.map((m, c) => 0.9 * (0.1 * m) + 0.1 * st2.mean[c]);
  const rvWant = st1.varB.map((v, c) => 0.9 * (0.9 * 1 + 0.1 * unb(v)) + 0.1 * unb(st2.varB[c]));
  const dm = maxAbsDiff(s.runningMean.dataSync(), rmWant);
  const dv = maxAbsDiff(s.runningVar.dataSync(), rvWant);
  assert.ok(dm < 1e-5 && dv < 1e-4, `running mean |Δ| ${dm}, running var |Δ| ${dv}`);

  // eval: running statistics, no update
  const x3 = data(3);
  const rm = Array.from(s.runningMean.dataSync());
  const rv = Array.from(s.runningVar.dataSync());
  const ye = batchNorm(tf.tensor2d(x3, [M, C]), s, false, EPS, 0.1);
  const wantE = Array.from(x3, (v, i) => ((v - rm[i % C]) / Math.sqrt(rv[i % C] + EPS)) * g[i % C] + b[i % C]);
  const de = maxAbsDiff(ye.dataSync(), wantE);
  assert.ok(de < 1e-5, `eval max |Δ| ${de}`);
  assert.deepEqual(Array.from(s.runningMean.dataSync()), rm, 'eval leaves the running mean alone');
  t.diagnostic(
    `forward |Δ| ${dy.toExponential(2)}, running mean |Δ| ${dm.toExponential(2)}, running var |Δ| ${dv.toExponential(2)}, eval |Δ| ${de.toExponential(2)}`,
  );
  tf.dispose([y, ye, s.gamma, s.beta, s.runningMean, s.runningVar]);
});

test('hand-written BatchNorm gradient equals autodiff of the elementwise formula within 1e-4', (t) => {
  const x = tf.tensor2d(data(4), [M, C]);
  const gamma = tf.tensor1d([1, 0.5, 2, -1, 1.5]);
  const beta = tf.tensor1d([0, 1, -1, 0.25, 2]);
  const r = tf.tensor2d(data(5), [M, C]);
  const formula = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
    const { mean, variance } = tf.moments(xx, 0, true);
    return tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, EPS))), gg), bb);
  };
  const loss = (f: typeof formula) => (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.square(f(xx, gg, bb)), r));
  const ours = tf.grads(loss((a, b, c) => batchNormTrain(a, b, c, EPS)))([x, gamma, beta]);
  const ref = tf.grads(loss(formula))([x, gamma, beta]);
  const d = ours.map(
    (g, i) => maxAbsDiff(g.dataSync(), ref[i].dataSync()) / Math.max(1, Math.max(...Array.from(ref[i].dataSync(), Math.abs))),
  );
  assert.ok(
    d.every((v) => v < 1e-4),
    `relative max |Δ| dx ${d[0]}, dγ ${d[1]}, dβ ${d[2]}`,
  );
  t.diagnostic(`relative max |Δ|: dx ${d[0].toExponential(2)}, dγ ${d[1].toExponential(2)}, dβ ${d[2].toExponential(2)}`);
  tf.dispose([x, gamma, beta, r, ...ours, ...ref]);
});
