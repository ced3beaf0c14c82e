import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { IMAGENET_MEAN, IMAGENET_STD, Rng } from '@cim-forge/cim';
import { fgsm, pgd, type LogitsFn } from './attacks.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

// Toy images [N, 2, 2, 3] = 12 pixels; a linear model on the normalized pixels: z = norm(x)·W + b.
const side = 2;
const D = side * side * 3;
const rng = new Rng(7);
// small weights keep |z₁ − z₀| ≲ 4: at saturated softmax the float32 gradient of CE (1 − p₀ vs p₁)
// loses its sign on pixels where w₁ ≈ w₀, a rounding effect, not the attack's
const W = Float32Array.from({ length: D * 2 }, () => 0.3 * rng.normal());
const bias = [0.1, -0.2];
const linearModel: LogitsFn = (x) => tf.add(tf.matMul(tf.reshape(x, [x.shape[0], D]), tf.tensor2d(W, [D, 2])), tf.tensor1d(bias));
/** u_i = (w₁ − w₀)_i / std_c: the logit margin z₁ − z₀ is u·x + const in pixel space */
const u = Array.from({ length: D }, (_, i) => (W[i * 2 + 1] - W[i * 2]) / IMAGENET_STD[i % 3]);
const uL1 = u.reduce((a, v) => a + Math.abs(v), 0);
const margin = (x: ArrayLike<number>) => {
  let m = bias[1] - bias[0];
  for (let i = 0; i < D; i++) m += ((W[i * 2 + 1] - W[i * 2]) * (x[i] - IMAGENET_MEAN[i % 3])) / IMAGENET_STD[i % 3];
  return m; // z₁ − z₀
};

/** n points with pixels in [0.1, 0.9] (no clipping at ε ≤ 0.1), labelled by the model (all clean-correct). */
function toySet(n: number, seed: number): { x: Float32Array; y: Int32Array; m: number[] } {
  const r = new Rng(seed);
  const x = Float32Array.from({ length: n * D }, () => r.uniform(0.1, 0.9));
  const m = Array.from({ length: n }, (_, i) => margin(x.subarray(i * D, (i + 1) * D)));
  const y = Int32Array.from(m, (v) => (v > 0 ? 1 : 0));
  return { x, y, m };
}

async function predict(f: LogitsFn, x: tf.Tensor): Promise<Int32Array> {
  const p = tf.tidy(() => tf.argMax(f(tf.div(tf.sub(x, tf.tensor1d([...IMAGENET_MEAN])), tf.tensor1d([...IMAGENET_STD]))), 1));
  const v = Int32Array.from(await p.data());
  p.dispose();
  return v;
}

test('FGSM on a linear 2-class model: the perturbation is exactly ±ε·sign(w₁ − w₀) per pixel (pixel space), flips iff ε‖u‖₁ > margin', async () => {
  const before = tf.memory().numTensors;
  const n = 400;
  const { x, y, m } = toySet(n, 1);
  const xt = tf.tensor4d(x, [n, side, side, 3]);
  const yt = tf.tensor1d(y, 'int32');
  // ε from the margins' median: about half the points must fall; skip points within 1e-4 of the threshold (float32)
  const eps = ([...m].map(Math.abs).sort((a, b) => a - b)[n / 2] / uL1) * 1.0001;
  assert.ok(eps < 0.1, `eps ${eps}`);
  const adv = fgsm(linearModel, xt, yt, { eps });
  const a = await adv.data();
  let maxErr = 0;
  for (let i = 0; i < n; i++) {
    // label 0 is pushed towards class 1 (+sign(u)), label 1 towards class 0 (−sign(u)); sign(u) = sign(w₁ − w₀)
    const dir = y[i] === 0 ? 1 : -1;
    for (let k = 0; k < D; k++) maxErr = Math.max(maxErr, Math.abs(a[i * D + k] - x[i * D + k] - dir * eps * Math.sign(u[k])));
  }
  assert.ok(maxErr < 1e-6, `FGSM perturbation off by ${maxErr} (eps ${eps})`);
  const pred = await predict(linearModel, adv);
  let expectedFalls = 0;
  let falls = 0;
  let checked = 0;
  for (let i = 0; i < n; i++) {
    const gap = eps * uL1 - Math.abs(m[i]);
    if (Math.abs(gap) < 1e-4) continue;
    checked++;
    const shouldFall = gap > 0;
    if (shouldFall) expectedFalls++;
    if (pred[i] !== y[i]) falls++;
    assert.equal(pred[i] !== y[i], shouldFall, `point ${i}: margin ${m[i]}, ε‖u‖₁ ${eps * uL1}`);
  }
  console.log(
    `linear toy: ε = ${eps.toFixed(5)} (pixel), ‖u‖₁ = ${uL1.toFixed(3)}; ${falls}/${checked} flipped, ` +
      `${expectedFalls} predicted in closed form; FGSM top-1 ${(1 - falls / checked).toFixed(3)}`,
  );
  assert.ok(falls > 100 && falls < 300);
  tf.dispose([xt, yt, adv]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
});

test('PGD with 1 step, α ≥ ε and no random start equals FGSM; PGD stays in the ε-ball and [0, 1]', async () => {
  const before = tf.memory().numTensors;
  const n = 64;
  const r = new Rng(3);
  // pixels over all of [0, 1], some at the edges, so the [0, 1] clip is exercised
  const x = Float32Array.from({ length: n * D }, () => Math.min(1, Math.max(0, r.uniform(-0.2, 1.2))));
  const xt = tf.tensor4d(x, [n, side, side, 3]);
  const yt = tf.tensor1d(
    Int32Array.from({ length: n }, (_, i) => i % 2),
    'int32',
  );
  const eps = 8 / 255;
  const f = fgsm(linearModel, xt, yt, { eps });
  for (const alpha of [eps, 2 * eps, 0.5]) {
    const p = pgd(linearModel, xt, yt, { eps, alpha, steps: 1 });
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(p, f))));
    assert.ok((await d.data())[0] < 1e-6, `α = ${alpha}: PGD-1 differs from FGSM by ${(await d.data())[0]}`);
    tf.dispose([p, d]);
  }
  const layers = twoLayerNet(11);
  for (const randomStart of [false, true]) {
    const p = pgd(layers.f, xt, yt, { eps, alpha: eps / 3, steps: 7, randomStart, seed: 5 });
    const a = await p.data();
    let over = 0;
    let outside = 0;
    for (let i = 0; i < a.length; i++) {
      over = Math.max(over, Math.abs(a[i] - x[i]) - eps);
      if (a[i] < 0 || a[i] > 1) outside++;
    }
    assert.ok(over <= 1e-6, `randomStart ${randomStart}: PGD leaves the ε-ball by ${over}`);
    assert.equal(outside, 0, 'PGD leaves [0, 1]');
    p.dispose();
  }
  tf.dispose([xt, yt, f]);
  layers.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
});

/** A 2-layer tanh net on the 12 normalized pixels, 3 classes. */
function twoLayerNet(seed: number): { f: LogitsFn; dispose(): void } {
  const r = new Rng(seed);
  const H = 16;
  const w1 = tf.tensor2d(
    Float32Array.from({ length: D * H }, () => r.normal() / Math.sqrt(D)),
    [D, H],
  );
  const w2 = tf.tensor2d(
    Float32Array.from({ length: H * 3 }, () => (3 * r.normal()) / Math.sqrt(H)),
    [H, 3],
  );
  return {
    f: (x) => tf.matMul(tf.tanh(tf.mul(tf.matMul(tf.reshape(x, [x.shape[0], D]), w1), 2)), w2),
    dispose: () => tf.dispose([w1, w2]),
  };
}

test('PGD (10 steps) is at least as strong as FGSM on a 2-layer net: higher mean loss, no higher accuracy', async () => {
  const before = tf.memory().numTensors;
  const net = twoLayerNet(2);
  const n = 300;
  const r = new Rng(9);
  const x = Float32Array.from({ length: n * D }, () => r.uniform(0, 1));
  const xt = tf.tensor4d(x, [n, side, side, 3]);
  const clean = await predict(net.f, xt);
  const yt = tf.tensor1d(clean, 'int32'); // the net's own labels: clean top-1 = 1
  const eps = 0.03;
  const lossOf = async (adv: tf.Tensor) => {
    const l = tf.tidy(() => {
      const z = net.f(tf.div(tf.sub(adv, tf.tensor1d([...IMAGENET_MEAN])), tf.tensor1d([...IMAGENET_STD])));
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(yt, 3), tf.logSoftmax(z as tf.Tensor2D)), 1)));
    });
    const v = (await l.data())[0];
    l.dispose();
    return v;
  };
  const accOf = async (adv: tf.Tensor) => {
    const p = await predict(net.f, adv);
    return p.filter((v, i) => v === clean[i]).length / n;
  };
  const f = fgsm(net.f, xt, yt, { eps });
  const p = pgd(net.f, xt, yt, { eps, alpha: (2.5 * eps) / 10, steps: 10 });
  const [lf, lp, af, ap] = [await lossOf(f), await lossOf(p), await accOf(f), await accOf(p)];
  console.log(
    `2-layer net, ε = ${eps}: FGSM loss ${lf.toFixed(4)} top-1 ${af.toFixed(3)}; PGD-10 loss ${lp.toFixed(4)} top-1 ${ap.toFixed(3)}`,
  );
  assert.ok(lp >= lf, `PGD loss ${lp} < FGSM loss ${lf}`);
  assert.ok(ap <= af, `PGD top-1 ${ap} > FGSM top-1 ${af}`);
  assert.ok(af < 1, 'FGSM flips some points');
  tf.dispose([xt, yt, f, p]);
  net.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
});

test('bad attack settings are refused', () => {
  const x = tf.zeros([1, side, side, 3]);
  const y = tf.tensor1d([0], 'int32');
  assert.throws(() => fgsm(linearModel, x, y, { eps: 2 }), /eps must be in \[0, 1\]/);
  assert.throws(() => pgd(linearModel, x, y, { eps: 0.1, alpha: 0.01, steps: 0 }), /steps must be an integer/);
  tf.dispose([x, y]);
});
