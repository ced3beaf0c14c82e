import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW } from '../optim/adamw.ts';
import { Rng } from '../rng.ts';
import { collate, noiseImage, sampleCim, samplerConfig, smallSamplerConfig, smoothTestImage } from '../sampler/index.ts';
import { CimResNet } from './cim-resnet.ts';
import { cimResnetMicro } from './config.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

const [B, T, STEPS] = [2, 3, 100];

/** Binary entropy (nats). */
const h = (p: number) => (p <= 0 || p >= 1 ? 0 : -(p * Math.log(p) + (1 - p) * Math.log(1 - p)));

test(`cimResnetMicro overfits one fixed synthetic batch in ${STEPS} AdamW steps`, (t) => {
  const s = samplerConfig({ contextSize: 32, exemplarSize: 16, numExemplars: T }, smallSamplerConfig);
  // libs/cim (type:math) may not import @cim-forge/data (type:data): the sampler's own test images
  const images = [smoothTestImage(64, 64), noiseImage(64, 64, 3)];
  const batch = collate(
    images.map((img, i) => sampleCim(img, s, new Rng(100 + i))),
    s,
  );
  const context = tf.tensor4d(batch.context, [B, 32, 32, 3]);
  const templates = tf.tensor4d(batch.exemplars, [T * B, 16, 16, 3]);
  const masks = tf.tensor3d(Float32Array.from(batch.masks), [T * B, 32, 32]);

  // the best constant prediction per template slot: Σ_t H(mean of mask t over the batch)
  let constant = 0;
  for (let k = 0; k < T; k++) {
    let on = 0;
    for (let i = k * B * 1024; i < (k + 1) * B * 1024; i++) on += batch.masks[i];
    constant += h(on / (B * 1024));
  }

  const m = new CimResNet(cimResnetMicro({ numTemplates: T }), 0);
  const opt = new AdamW(m.specs.filter((p) => p.trainable).map((p) => ({ name: p.name, variable: m.p(p.name), decay: p.decay })));
  const losses: number[] = [];
  const t0 = Date.now();
  for (let i = 0; i < STEPS; i++) {
    const { loss, grads } = m.lossAndGrads(context, templates, masks);
    const lr = 2e-3 * Math.min(1, (i + 1) / 10);
    opt.apply(grads, lr);
    m.momentumUpdate(0.99);
    losses.push(loss.dataSync()[0]);
    tf.dispose([loss, ...grads.values()]);
    if (!Number.isFinite(losses[i])) throw new Error(`non-finite loss at step ${i}`);
  }
  const first = losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
  const last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
  t.diagnostic(
    `loss: first 5 ${first.toFixed(3)} → last 10 ${last.toFixed(3)}; best constant ` +
      `predictor ${constant.toFixed(3)}; ${((Date.now() - t0) / STEPS).toFixed(0)} ms/step`,
  );
  assert.ok(last < 0.5 * first, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}, less than half`);
  assert.ok(last < 0.7 * constant, `loss ${last.toFixed(3)} beats the best constant prediction ${constant.toFixed(3)} by 30%`);
  tf.dispose([context, templates, masks]);
  opt.dispose();
  m.dispose();
});
