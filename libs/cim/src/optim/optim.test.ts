import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initTestBackend } from '../testing/index.ts';
import { newVariable } from '../nn/tensors.ts';
import { AdamW } from './adamw.ts';
import { clipByGlobalNorm } from './clip.ts';
import { learningRate, scaledLr, targetMomentum } from './schedules.ts';

await initTestBackend();

const close = (a: ArrayLike<number>, b: number[], tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `[${i}] ${a[i]} vs ${b[i]}`);
};

/** torch.optim.AdamW's update in float64, for one parameter. */
function adamwReference(
  p: number[],
  grads: number[][],
  lrs: number[],
  decay: boolean,
  c = { beta1: 0.9, beta2: 0.95, eps: 1e-8, wd: 0.05 },
): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  p = [...p];
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k];
    for (let i = 0; i < p.length; i++) {
      if (decay) p[i] *= 1 - lr * c.wd;
      m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
      v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i];
      p[i] -= (lr / (1 - c.beta1 ** t)) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - c.beta2 ** t) + c.eps));
    }
  });
  return p;
}

test("AdamW: PyTorch's update over three steps, weight decay only where `decay` is set; no tensor left behind", async () => {
  const before = tf.memory().numTensors;
  const w = newVariable(tf.tensor1d([1, -2, 0.5]), true);
  const b = newVariable(tf.tensor1d([0.25, -0.75]), true);
  const opt = new AdamW([
    { name: 'w', variable: w, decay: true },
    { name: 'b', variable: b, decay: false },
  ]);
  const gw = [
    [0.5, -0.1, 0],
    [0.2, 0.3, -1],
    [-0.4, 0.05, 2],
  ];
  const gb = [
    [1, -1],
    [0.5, 0.5],
    [-2, 0.1],
  ];
  const lrs = [0.1, 0.05, 0.01];
  for (let k = 0; k < 3; k++) {
    const grads = new Map<string, tf.Tensor>([
      ['w', tf.tensor1d(gw[k])],
      ['b', tf.tensor1d(gb[k])],
    ]);
    opt.apply(grads, lrs[k]);
    tf.dispose([...grads.values()]);
  }
  assert.equal(opt.step, 3);
  // step 1 alone is lr·sign(g) after decay: w[0] = 1·(1 − 0.1·0.05) − 0.1 = 0.895
  close(await w.data(), adamwReference([1, -2, 0.5], gw, lrs, true));
  close(await b.data(), adamwReference([0.25, -0.75], gb, lrs, false));
  assert.throws(() => opt.apply(new Map(), 0.1), /AdamW: no gradient for w/);
  opt.dispose();
  tf.dispose([w, b]);
  assert.equal(tf.memory().numTensors, before);
});

test('AdamW: one step is lr·sign(g) plus decay (0.895, −1.89)', async () => {
  const w = newVariable(tf.tensor1d([1, -2]), true);
  const opt = new AdamW([{ name: 'w', variable: w, decay: true }]);
  const g = tf.tensor1d([0.5, -0.1]);
  opt.apply(new Map([['w', g]]), 0.1);
  close(await w.data(), [0.895, -1.89]);
  tf.dispose([g, w]);
  opt.dispose();
});

test('clipByGlobalNorm: returns the norm (5), scales by maxNorm / (norm + 1e-6) only above maxNorm', async () => {
  const grads = new Map<string, tf.Tensor>([
    ['a', tf.tensor1d([3])],
    ['b', tf.tensor2d([[0, 4]])],
  ]);
  const a0 = grads.get('a');
  assert.equal(await clipByGlobalNorm(grads, 10), 5);
  assert.equal(grads.get('a'), a0, 'below maxNorm the tensors stay');
  const before = tf.memory().numTensors;
  assert.equal(await clipByGlobalNorm(grads, 1), 5);
  assert.equal(tf.memory().numTensors, before, 'the old gradients are disposed');
  close(await grads.get('a')!.data(), [3 / (5 + 1e-6)]);
  close(await grads.get('b')!.data(), [0, 4 / (5 + 1e-6)]);
  assert.deepEqual(grads.get('b')!.shape, [1, 2]);
  tf.dispose([...grads.values()]);
});

test('learningRate: linear warm-up, then half-cycle cosine to minLr, flat after the end', () => {
  const o = { peakLr: 1e-3, minLr: 1e-5, warmupEpochs: 1, epochs: 11 };
  close([learningRate(0, o), learningRate(0.5, o), learningRate(1, o)], [0, 5e-4, 1e-3], 1e-12);
  close([learningRate(6, o), learningRate(11, o), learningRate(20, o)], [5.05e-4, 1e-5, 1e-5], 1e-12);
  close([learningRate(1 + 10 / 3, o)], [1e-5 + (1e-3 - 1e-5) * 0.75], 1e-12);
});

test('targetMomentum: cosine from base (0.99) to end (1) over K steps; scaledLr: base × batch / 256', () => {
  close([targetMomentum(0, 100), targetMomentum(50, 100), targetMomentum(100, 100)], [0.99, 0.995, 1], 1e-12);
  close([targetMomentum(25, 100, 0.996)], [1 - (0.004 * (Math.SQRT1_2 + 1)) / 2], 1e-12);
  close([scaledLr(1.5e-4, 4096), scaledLr(1e-3, 64)], [2.4e-3, 2.5e-4], 1e-12);
});
