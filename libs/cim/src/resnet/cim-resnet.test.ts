import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '../optim/adamw.ts';
import { Rng } from '../rng.ts';
import { CimResNet, resnetOnlineNameOf } from './cim-resnet.ts';
import { cimResnetMicro } from './config.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

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

test('forward: logits [T·B, 32, 32, 2] on a 4×4 context grid and 2×2 exemplar grids; finite loss', () => {
  const m = new CimResNet(cimResnetMicro({ numTemplates: 2 }), 0);
  assert.equal(m.contextGrid, 4);
  assert.equal(m.templateGrid, 2);
  const { context, templates, masks } = inputs(2, 2, 1);
  const ctx = m.forwardTargetEncoder(context);
  const tm = m.forwardEncoder(templates);
  assert.deepEqual(ctx.shape, [2, 17, 128]);
  assert.deepEqual(tm.shape, [4, 5, 128]);
  const { logits, loss } = m.forward(context, templates, masks);
  assert.deepEqual(logits.shape, [4, 32, 32, 2]);
  assert.ok(Number.isFinite(loss.dataSync()[0]));
  tf.dispose([context, templates, masks, ctx, tm, logits, loss]);
  m.dispose();
});

test('gradients: one for every trainable parameter, finite and non-zero; none for the target or the BN buffers', (t) => {
  const m = new CimResNet(cimResnetMicro({ numTemplates: 2 }), 1);
  const { context, templates, masks } = inputs(2, 2, 5);
  const { loss, grads } = m.lossAndGrads(context, templates, masks);
  const trainable = m.trainableNames();
  assert.deepEqual([...grads.keys()], trainable);
  assert.ok(trainable.every((n) => !n.startsWith('encoder_c.') && !n.includes('running_')));
  assert.ok(m.specs.filter((s) => s.role === 'target').every((s) => !s.trainable && !grads.has(s.name)));
  assert.ok(m.specs.filter((s) => s.buffer).every((s) => !s.trainable));
  let minNorm = Infinity;
  for (const [name, g] of grads) {
    assert.deepEqual(g.shape, m.p(name).shape, name);
    const v = g.dataSync() as Float32Array;
    assert.ok(v.every(Number.isFinite), `${name}: non-finite gradient`);
    const norm = Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    assert.ok(norm > 0, `${name}: zero gradient`);
    minNorm = Math.min(minNorm, norm);
  }
  const nOnline = trainable.filter((n) => n.startsWith('encoder.')).length;
  t.diagnostic(
    `${grads.size} gradients (${nOnline} online encoder, ${grads.size - nOnline} decoder), ` +
      `smallest norm ${minNorm.toExponential(2)}, loss ${loss.dataSync()[0].toFixed(4)}`,
  );
  tf.dispose([context, templates, masks, loss, ...grads.values()]);
  m.dispose();
});

test('momentumUpdate averages weights and γ/β, not the running statistics; the target follows exactly', async () => {
  const m = new CimResNet(cimResnetMicro({ numTemplates: 2 }), 2);
  const name = 'encoder_c.layer2.0.conv1.weight';
  const online = m.p(resnetOnlineNameOf(name));
  tf.tidy(() => online.assign(tf.add(online, 1)));
  const before = (await m.p(name).data()) as Float32Array;
  const on = (await online.data()) as Float32Array;
  const rvBefore = Array.from((await m.p('encoder_c.bn1.running_var').data()) as Float32Array);
  tf.tidy(() => m.p('encoder.bn1.running_var').assign(tf.fill([16], 7)));
  m.momentumUpdate(0.9);
  const after = (await m.p(name).data()) as Float32Array;
  let d = 0;
  for (let i = 0; i < after.length; i++) d = Math.max(d, Math.abs(after[i] - (0.9 * before[i] + 0.1 * on[i])));
  assert.ok(d < 1e-6, `EMA |Δ| ${d}`);
  assert.deepEqual(Array.from((await m.p('encoder_c.bn1.running_var').data()) as Float32Array), rvBefore);
  m.dispose();
});

test('numTensors stays flat over 10 training steps (lossAndGrads + AdamW + momentum update)', (t) => {
  const m = new CimResNet(cimResnetMicro({ numTemplates: 2 }), 3);
  const opt = new AdamW(m.specs.filter((s) => s.trainable).map((s) => ({ name: s.name, variable: m.p(s.name), decay: s.decay })));
  const { context, templates, masks } = inputs(2, 2, 9);
  const counts: number[] = [];
  const t0 = Date.now();
  for (let i = 0; i < 10; i++) {
    const { loss, grads } = m.lossAndGrads(context, templates, masks);
    opt.apply(grads, 1e-3);
    m.momentumUpdate(0.99);
    tf.dispose([loss, ...grads.values()]);
    counts.push(tf.memory().numTensors);
  }
  assert.ok(
    counts.every((c) => c === counts[0]),
    `numTensors per step: ${counts.join(', ')}`,
  );
  t.diagnostic(`numTensors ${counts[0]} after each of 10 steps; ${((Date.now() - t0) / 10).toFixed(0)} ms/step (B 2, T 2)`);
  tf.dispose([context, templates, masks]);
  opt.dispose();
  m.dispose();
});

test('stateDict round-trips through loadStateDict with PyTorch layouts', async () => {
  const a = new CimResNet(cimResnetMicro({ numTemplates: 2 }), 4);
  const b = new CimResNet(cimResnetMicro({ numTemplates: 2 }), 5);
  const sd = await a.stateDict();
  assert.deepEqual(sd.get('encoder.conv1.weight')!.shape, [16, 3, 3, 3]);
  assert.deepEqual(sd.get('decoder_embed.weight')!.shape, [64, 128]);
  b.loadStateDict((n) => sd.get(n));
  for (const s of a.specs) {
    const x = (await a.p(s.name).data()) as Float32Array;
    const y = (await b.p(s.name).data()) as Float32Array;
    assert.ok(
      x.every((v, i) => v === y[i]),
      s.name,
    );
  }
  a.dispose();
  b.dispose();
});
