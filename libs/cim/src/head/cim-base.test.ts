import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initTestBackend } from '../testing/index.ts';
import { Rng } from '../rng.ts';
import { CimViT } from '../vit/cim-vit.ts';
import { cimVitMicroPatch4 } from '../vit/config.ts';
import { CimResNet } from '../resnet/cim-resnet.ts';
import { cimResnetMicro } from '../resnet/config.ts';
import type { HostTensor } from '../nn/params.ts';

await initTestBackend();

const vitConfig = () => cimVitMicroPatch4({ depth: 1, numTemplates: 2 });

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor(v, shape);
}

function inputs(B: number, T: number, seed: number) {
  const context = randn([B, 32, 32, 3], seed) as tf.Tensor4D;
  const templates = randn([T * B, 16, 16, 3], seed + 1) as tf.Tensor4D;
  const masks = tf.tidy(() => tf.cast(tf.greater(randn([T * B, 32, 32], seed + 2), 0.8), 'float32')) as tf.Tensor3D;
  return { context, templates, masks };
}

/** one model of each backbone, made when its turn comes */
const backbones = [
  (seed: number) => new CimViT(vitConfig(), seed),
  (seed: number) => new CimResNet(cimResnetMicro({ numTemplates: 2 }), seed),
];

const host = async (v: tf.Tensor) => Array.from((await v.data()) as Float32Array);

test('the specs: ViT (depth 1) 53 parameters, 35 trainable, no buffers; ResNet-micro 140, 56 trainable, 48 running statistics', () => {
  const vit = new CimViT(vitConfig(), 0);
  const res = new CimResNet(cimResnetMicro({ numTemplates: 2 }), 0);
  assert.deepEqual([vit.specs.length, vit.trainableNames().length, vit.bufferNames().length], [53, 35, 0]);
  assert.deepEqual([res.specs.length, res.trainableNames().length, res.bufferNames().length], [140, 56, 48]);
  assert.deepEqual([vit.contextGrid, res.contextGrid], [8, 4]);
  assert.ok(
    !vit.trainableNames().some((n) => n.startsWith('blocks_c.') || n.startsWith('patch_embed')),
    'target and frozen patch embedding get no gradient',
  );
  vit.dispose();
  res.dispose();
});

test('lossAndGrads: the forward loss, a gradient for exactly the trainable parameters in their shapes; numTensors flat (both backbones)', async () => {
  for (const make of backbones) {
    const model = make(1);
    const { context, templates, masks } = inputs(2, 2, 3);
    model.training = false; // the ResNet's running statistics stay, so both passes see the same BatchNorm
    tf.dispose(Object.values(model.forward(context, templates, masks))); // the ViT caches its position embeddings
    const before = tf.memory().numTensors;
    const f = model.forward(context, templates, masks);
    const { loss, grads } = model.lossAndGrads(context, templates, masks);
    assert.deepEqual([...grads.keys()], model.trainableNames());
    for (const [n, g] of grads) assert.deepEqual(g.shape, model.p(n).shape, n);
    const [a, b] = [(await f.loss.data())[0], (await loss.data())[0]];
    assert.ok(Number.isFinite(a) && Math.abs(a - b) <= 1e-5 * Math.abs(a), `${model.architecture}: forward ${a}, lossAndGrads ${b}`);
    assert.deepEqual(f.logits.shape, [4, 32, 32, 2]);
    tf.dispose([f.logits, f.loss, loss, ...grads.values()]);
    assert.equal(tf.memory().numTensors, before, model.architecture);
    tf.dispose([context, templates, masks]);
    model.dispose();
  }
});

test('momentumUpdate: target ← m·target + (1 − m)·online; online and the online-only cls token unchanged', async () => {
  const m = new CimViT(vitConfig(), 2);
  const online = m.p('blocks.0.mlp.fc1.weight');
  tf.tidy(() => online.assign(tf.add(online, 0.5)));
  const [t0, o0, cls0] = await Promise.all([host(m.p('blocks_c.0.mlp.fc1.weight')), host(online), host(m.p('cls_token'))]);
  m.momentumUpdate(0.75);
  const t1 = await host(m.p('blocks_c.0.mlp.fc1.weight'));
  let d = 0;
  for (let i = 0; i < t1.length; i++) d = Math.max(d, Math.abs(t1[i] - (0.75 * t0[i] + 0.25 * o0[i])));
  assert.ok(d < 1e-6, `EMA |Δ| ${d}`);
  assert.ok(Math.abs(t1[0] - t0[0]) > 0.1, 'the target moved (online + 0.5)');
  assert.deepEqual(await host(online), o0);
  assert.deepEqual(await host(m.p('cls_token')), cls0);
  m.dispose();
});

test('loadStateDict: targetFromOnline fills a missing target, onlyRoles leaves the other roles; refusals name the parameter', async () => {
  const a = new CimViT(vitConfig(), 3);
  const sd = await a.stateDict();
  assert.equal(sd.size, 53);
  assert.deepEqual(sd.get('blocks.0.attn.qkv.weight')!.shape, [192, 64], 'PyTorch layout [out, in]');
  const encoderOnly = (n: string) =>
    n.startsWith('blocks_c.') || n.startsWith('patch_embed_c.') || n.startsWith('norm_c.') ? undefined : sd.get(n);

  const b = new CimViT(vitConfig(), 4);
  b.loadStateDict(encoderOnly, { targetFromOnline: true });
  assert.deepEqual(await host(b.p('blocks_c.0.norm1.weight')), await host(a.p('blocks.0.norm1.weight')));
  assert.deepEqual(await host(b.p('norm_c.bias')), await host(a.p('norm.bias')));
  assert.throws(() => b.loadStateDict(encoderOnly), /checkpoint lacks parameter patch_embed_c\.proj\.weight/);

  const c = new CimViT(vitConfig(), 5);
  const cOnline = await host(c.p('blocks.0.mlp.fc2.weight'));
  c.loadStateDict((n) => sd.get(n), { onlyRoles: ['decoder'] });
  assert.deepEqual(await host(c.p('decoder_embed.weight')), await host(a.p('decoder_embed.weight')));
  assert.deepEqual(await host(c.p('blocks.0.mlp.fc2.weight')), cOnline);

  const wrong = (n: string): HostTensor | undefined => (n === 'norm.weight' ? { shape: [32], data: new Float32Array(32) } : sd.get(n));
  assert.throws(() => c.loadStateDict(wrong), /parameter norm\.weight: checkpoint shape 32, model expects 64/);
  [a, b, c].forEach((m) => m.dispose());
});

test('dispose frees every parameter and buffer, and is safe twice', () => {
  const before = tf.memory().numTensors;
  for (const make of backbones) {
    const m = make(6);
    const { context, templates, masks } = inputs(1, 2, 7);
    tf.dispose(Object.values(m.forward(context, templates, masks)));
    tf.dispose([context, templates, masks]);
    m.dispose();
    m.dispose();
    assert.equal(tf.memory().numTensors, before, m.architecture);
  }
});
