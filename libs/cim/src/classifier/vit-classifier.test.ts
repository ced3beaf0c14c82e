import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { CimViT } from '../vit/cim-vit.ts';
import { cimVitMicroPatch4 } from '../vit/config.ts';
import { Rng } from '../rng.ts';
import { VitClassifier, classifierConfigOf, dropPathRates } from './vit-classifier.ts';
import { layerLrScale } from './layer-decay.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

function randomImages(n: number, s: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const v = new Float32Array(n * s * s * 3);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor4d(v, [n, s, s, 3]);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function cimStateGetter(model: CimViT) {
  const sd = await model.stateDict();
  sd.set('pos_embed', {
    shape: [1, 1 + (model.config.imgSize / model.config.patchSize) ** 2, model.config.embedDim],
    data: model.buffers().posEmbed,
  });
  return (name: string) => sd.get(name);
}

test('shapes: logits [N, K], encoder tokens [N, 1 + g², D]; head starts near zero', async () => {
  const clf = new VitClassifier(classifierConfigOf(cimVitMicroPatch4(), { numClasses: 10 }), 1);
  const x = randomImages(3, 32, 5);
  const logits = clf.forward(x);
  assert.deepEqual(logits.shape, [3, 10]);
  const tokens = clf.forwardEncoder(x);
  assert.deepEqual(tokens.shape, [3, 65, 64]);
  const l = (await logits.data()) as Float32Array;
  assert.ok(Math.max(...l.map(Math.abs)) < 0.01, 'head init std 2e-5 gives tiny logits');
  tf.dispose([x, logits, tokens]);
  clf.dispose();
});

test('online encoder loaded from a CIM model gives forwardEncoder features within 1e-5', async () => {
  const cim = new CimViT(cimVitMicroPatch4(), 7);
  // make the target differ from the online encoder, so the choice is visible
  cim.momentumUpdate(0);
  tf.tidy(() => {
    for (const [name, v] of cim.params) if (name.startsWith('blocks.')) v.assign(tf.add(v, 0.01));
  });
  const get = await cimStateGetter(cim);
  const x = randomImages(2, 32, 9);
  const ref = cim.forwardEncoder(x);
  const refData = (await ref.data()) as Float32Array;

  const online = new VitClassifier(classifierConfigOf(cim.config, { numClasses: 10, dropPath: 0.5 }), 3);
  const r = online.loadEncoder(get, 'online');
  assert.equal(r.loaded, 2 + 1 + 4 * 12 + 2);
  const ours = online.forwardEncoder(x);
  assert.ok(maxAbsDiff((await ours.data()) as Float32Array, refData) < 1e-5);

  const target = new VitClassifier(classifierConfigOf(cim.config, { numClasses: 10 }), 3);
  target.loadEncoder(get, 'target');
  const tgt = target.forwardEncoder(x);
  const tgtRef = cim.forwardTargetEncoder(x);
  const tgtData = (await tgt.data()) as Float32Array;
  assert.ok(maxAbsDiff(tgtData, (await tgtRef.data()) as Float32Array) < 1e-5, 'target = blocks_c/norm_c/patch_embed_c');
  assert.ok(maxAbsDiff(tgtData, refData) > 1e-3, 'and differs from the online encoder');
  tf.dispose([x, ref, ours, tgt, tgtRef]);
  online.dispose();
  target.dispose();
  cim.dispose();
});

test('pos_embed from a 32-px checkpoint is resized for a 48-px classifier', async () => {
  const cim = new CimViT(cimVitMicroPatch4(), 2);
  const clf = new VitClassifier(classifierConfigOf(cim.config, { numClasses: 4, imgSize: 48 }), 0);
  clf.loadEncoder(await cimStateGetter(cim), 'online');
  const sd = await clf.stateDict();
  assert.deepEqual(sd.get('pos_embed')!.shape, [1, 1 + 12 * 12, 64]);
  const x = randomImages(1, 48, 1);
  const y = clf.forward(x);
  assert.deepEqual(y.shape, [1, 4]);
  tf.dispose([x, y]);
  clf.dispose();
  cim.dispose();
});

test('drop path: rates linspace(0, r, depth); only with an rng; changes outputs in training', async () => {
  assert.deepEqual(
    dropPathRates(0.3, 4).map((r) => +r.toFixed(6)),
    [0, 0.1, 0.2, 0.3],
  );
  const clf = new VitClassifier(classifierConfigOf(cimVitMicroPatch4(), { numClasses: 10, dropPath: 0.9 }), 1);
  const x = randomImages(4, 32, 2);
  const [a, b, c] = tf.tidy(() => [clf.forwardBlocks(x), clf.forwardBlocks(x), clf.forwardBlocks(x, new Rng(5))]);
  const ad = (await a.data()) as Float32Array;
  assert.equal(maxAbsDiff(ad, (await b.data()) as Float32Array), 0, 'eval is deterministic');
  assert.ok(maxAbsDiff(ad, (await c.data()) as Float32Array) > 1e-3, 'training drops paths');
  tf.dispose([x, a, b, c]);
  clf.dispose();
});

test('layer-wise lr scales: block i → d^(L−i), embeddings d^(L+1), head 1', () => {
  const L = 4;
  const d = 0.75;
  assert.equal(layerLrScale('head.weight', L, d), 1);
  assert.equal(layerLrScale('fc_norm.bias', L, d), 1);
  assert.equal(layerLrScale('blocks.3.mlp.fc1.weight', L, d), 0.75);
  assert.equal(layerLrScale('blocks.0.attn.qkv.bias', L, d), 0.75 ** 4);
  assert.equal(layerLrScale('cls_token', L, d), 0.75 ** 5);
  assert.equal(layerLrScale('patch_embed.proj.weight', L, d), 0.2373046875);
});

test('gradients reach every trainable parameter; numTensors flat over repeated steps', () => {
  const clf = new VitClassifier(classifierConfigOf(cimVitMicroPatch4({ depth: 2 }), { numClasses: 3, dropPath: 0.2 }), 1);
  const x = randomImages(2, 32, 3);
  const y = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
  const names = clf.trainableNames();
  assert.ok(names.includes('patch_embed.proj.weight') && !names.includes('norm.weight'));
  const vars = names.map((n) => clf.p(n));
  const counts: number[] = [];
  for (let s = 0; s < 3; s++) {
    const rng = new Rng(s);
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, clf.forward(x, rng)) as tf.Scalar, vars);
    for (const v of vars) assert.ok(grads[v.name], 'a gradient for every trainable variable');
    tf.dispose([value, ...Object.values(grads)]);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(counts[2], counts[0]);
  tf.dispose([x, y]);
  clf.dispose();
});
