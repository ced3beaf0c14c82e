import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '../optim/adamw.ts';
import { Rng } from '../rng.ts';
import { CimResNet } from '../resnet/cim-resnet.ts';
import { cimResnetMicro, resnetMicro } from '../resnet/config.ts';
import { createClassifier, classifierFeatures, classifierLrScale } from './image-classifier.ts';
import { ResnetClassifier, resnetClassifierConfigOf, resnetLayerLrScale } from './resnet-classifier.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

function randomImages(n: number, s: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const v = new Float32Array(n * s * s * 3);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor4d(v, [n, s, s, 3]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test('layer-wise lr decay by stage: stem decay^5, layerk decay^(5−k), head 1 (4 stages)', () => {
  assert.equal(resnetLayerLrScale('conv1.weight', 4, 0.5), 0.03125);
  assert.equal(resnetLayerLrScale('bn1.running_mean', 4, 0.5), 0.03125);
  assert.equal(resnetLayerLrScale('layer1.0.conv1.weight', 4, 0.5), 0.0625);
  assert.equal(resnetLayerLrScale('layer3.0.downsample.1.bias', 4, 0.5), 0.25);
  assert.equal(resnetLayerLrScale('layer4.0.bn2.weight', 4, 0.5), 0.5);
  assert.equal(resnetLayerLrScale('head.weight', 4, 0.5), 1);
  const clf = createClassifier(cimResnetMicro(), { numClasses: 10 });
  assert.ok(clf instanceof ResnetClassifier);
  assert.equal(classifierLrScale(clf, 'layer2.0.conv2.weight', 0.8), 0.8 ** 3);
  // 307,536 backbone parameters (resnet/config.ts) + head 128·10 + 10
  assert.equal(
    clf.trainableNames().reduce((a, n) => a + clf.p(n).size, 0),
    307_536 + 1290,
  );
  assert.equal(clf.bufferNames().length, 2 * (1 + 4 * 2 + 3));
  clf.dispose();
});

test('loads the exact online or target encoder of a CIM ResNet; eval features = its pooled token within 1e-5', async () => {
  const cim = new CimResNet(cimResnetMicro(), 7);
  // make target and online differ (weights and running statistics), so the choice is visible
  tf.tidy(() => {
    for (const [name, v] of cim.params) if (name.startsWith('encoder_c.')) v.assign(tf.add(tf.mul(v, 0.5), 0.01));
  });
  const sd = await cim.stateDict();
  const get = (n: string) => sd.get(n);
  const x = randomImages(3, 32, 9);

  for (const which of ['online', 'target'] as const) {
    const clf = new ResnetClassifier(resnetClassifierConfigOf(cim.config, { numClasses: 10 }), 3);
    const headBefore = (await clf.p('head.weight').data()) as Float32Array;
    // every backbone parameter and buffer: stem 1 + 4, four blocks × (2 + 2·4), three downsamples × (1 + 4)
    assert.equal(clf.loadEncoder(get, which).loaded, 60);
    const ours = await clf.stateDict();
    const prefix = which === 'online' ? 'encoder.' : 'encoder_c.';
    for (const name of ['conv1.weight', 'layer2.0.downsample.0.weight', 'layer4.0.bn2.running_var', 'layer3.0.bn1.weight']) {
      assert.equal(maxAbsDiff(ours.get(name)!.data, sd.get(prefix + name)!.data), 0, `${which} ${name} loaded exactly`);
    }
    assert.equal(maxAbsDiff((await clf.p('head.weight').data()) as Float32Array, headBefore), 0, 'head untouched');

    cim.training = false;
    const ref = tf.tidy(() => {
      const f = which === 'online' ? cim.forwardEncoder(x) : cim.forwardTargetEncoder(x);
      return tf.squeeze(tf.slice(f, [0, 0, 0], [3, 1, 128]), [1]);
    });
    const feats = classifierFeatures(clf, x);
    assert.deepEqual(feats.shape, [3, 128]);
    const d = maxAbsDiff((await feats.data()) as Float32Array, (await ref.data()) as Float32Array);
    assert.ok(d < 1e-5, `${which}: features differ by ${d}`);
    tf.dispose([ref, feats]);
    clf.dispose();
  }
  x.dispose();
  cim.dispose();
});

test('BatchNorm: forward with rng uses batch statistics and moves running statistics; without rng it is per-image', async () => {
  const clf = new ResnetClassifier(resnetClassifierConfigOf(cimResnetMicro(), { numClasses: 4 }), 1);
  const x = randomImages(4, 32, 2);
  const x0 = tf.slice(x, [0, 0, 0, 0], [1, 32, 32, 3]);
  // eval mode: image 0's logits do not depend on the rest of the batch, and nothing moves
  const a = tf.tidy(() => tf.slice(clf.forward(x), [0, 0], [1, 4]));
  const b = clf.forward(x0);
  assert.ok(maxAbsDiff((await a.data()) as Float32Array, (await b.data()) as Float32Array) < 1e-5);
  assert.equal(maxAbsDiff((await clf.p('bn1.running_mean').data()) as Float32Array, new Float32Array(16)), 0);
  // training mode: batch statistics (image 0's logits change with its batch) and running mean ← 0.9·0 + 0.1·batch mean
  const c = tf.tidy(() => tf.slice(clf.forward(x, new Rng(0)), [0, 0], [1, 4]));
  assert.ok(maxAbsDiff((await a.data()) as Float32Array, (await c.data()) as Float32Array) > 1e-3);
  const rm = (await clf.p('bn1.running_mean').data()) as Float32Array;
  assert.ok(Math.max(...rm.map(Math.abs)) > 1e-4, 'running mean moved');
  tf.dispose([x, x0, a, b, c]);
  clf.dispose();
});

test('learns a tiny task (horizontal vs vertical stripes) to 100% eval-mode top-1 with numTensors flat', async (t) => {
  const S = 16;
  const n = 32;
  const rng = new Rng(4);
  const v = new Float32Array(n * S * S * 3);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    const period = 2 + (i % 3);
    const phase = Math.floor(rng.random() * period);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const on = ((labels[i] ? x : y) + phase) % period === 0 ? 1 : -1;
        for (let c = 0; c < 3; c++) v[((i * S + y) * S + x) * 3 + c] = on + 0.3 * rng.normal();
      }
    }
  }
  const xs = tf.tensor4d(v, [n, S, S, 3]);
  const ys = tf.oneHot(tf.tensor1d(labels, 'int32'), 2);
  const backbone = resnetMicro({ widths: [8, 8, 16, 16], stemWidth: 8 });
  const clf = new ResnetClassifier({ backbone, imgSize: S, numClasses: 2 }, 0);
  const names = clf.trainableNames();
  const opt = new AdamW(clf.specs.filter((s) => s.trainable).map((s) => ({ name: s.name, variable: clf.p(s.name), decay: s.decay })));
  const losses: number[] = [];
  let tensorsAfterFirst = 0;
  for (let step = 0; step < 40; step++) {
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(ys, clf.forward(xs, new Rng(step))) as tf.Scalar,
      names.map((nm) => clf.p(nm)),
    );
    losses.push((await value.data())[0]);
    opt.apply(new Map(names.map((nm) => [nm, grads[clf.p(nm).name]] as [string, tf.Tensor])), 5e-3);
    tf.dispose([value, ...Object.values(grads)]);
    if (step === 0) tensorsAfterFirst = tf.memory().numTensors;
  }
  assert.equal(tf.memory().numTensors, tensorsAfterFirst, 'numTensors flat across steps');
  // settle the running statistics on the data (40 steps at momentum 0.1 already nearly there), then score in eval mode
  const pred = tf.tidy(() => tf.argMax(clf.forward(xs), 1));
  const p = await pred.data();
  const acc = labels.reduce((a, l, i) => a + (p[i] === l ? 1 : 0), 0) / n;
  t.diagnostic(`loss ${losses[0].toFixed(3)} → ${losses.at(-1)!.toFixed(3)}; eval top-1 ${acc}`);
  assert.ok(losses[0] > 0.6, `starts near ln 2, got ${losses[0]}`);
  assert.ok(losses.at(-1)! < 0.1, `loss falls below 0.1, got ${losses.at(-1)}`);
  assert.equal(acc, 1);
  tf.dispose([xs, ys, pred]);
  opt.dispose();
  clf.dispose();
});
