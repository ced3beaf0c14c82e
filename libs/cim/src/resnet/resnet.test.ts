import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.ts';
import { cimResnet50, cimResnetMicro, resnet18, resnet50, resnetGrid, resnetMicro, resnetOutDim, resnetStride } from './config.ts';
import { countResNetParams, resnetParamSpecs } from './params.ts';
import { ResNet } from './resnet.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

function randomImages(n: number, s: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const v = new Float32Array(n * s * s * 3);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor4d(v, [n, s, s, 3]);
}

test('parameter counts: ResNet-50 conv+bn = 23,508,032 (torchvision 25,557,032 minus the 2,049,000 fc); ResNet-18 11,176,512; micro 307,536', (t) => {
  const n50 = countResNetParams(resnet50());
  assert.equal(n50, 23_508_032);
  assert.ok(Math.abs(n50 - 23.5e6) < 0.1e6);
  assert.equal(countResNetParams(resnet18()), 11_689_512 - 513_000);
  assert.equal(countResNetParams(resnetMicro()), 307_536);
  const specs = resnetParamSpecs(resnet50());
  assert.equal(
    specs.filter((s) => s.name.endsWith('.weight') && s.torchShape.length === 4).length,
    53,
    'ResNet-50 has 53 convs (49 + 4 downsample)',
  );
  assert.ok(specs.some((s) => s.name === 'layer4.2.bn3.running_var' && s.buffer && !s.trainable));
  t.diagnostic(`resnet50 ${n50}, resnet18 ${countResNetParams(resnet18())}, resnetMicro ${countResNetParams(resnetMicro())}`);
});

test('resnetMicro stage shapes on 32-px and 16-px inputs; tokens [N, 1 + h·w, 128] with a mean-pooled first token', async () => {
  const r = new ResNet(resnetMicro(), 1);
  const x = randomImages(2, 32, 3);
  const stages = r.forwardStages(x);
  assert.deepEqual(
    stages.map((s) => s.shape),
    [
      [2, 32, 32, 16],
      [2, 32, 32, 16],
      [2, 16, 16, 32],
      [2, 8, 8, 64],
      [2, 4, 4, 128],
    ],
  );
  const small = randomImages(3, 16, 4);
  assert.deepEqual(r.forward(small).shape, [3, 2, 2, 128]);
  assert.equal(resnetStride(resnetMicro()), 8);
  assert.equal(resnetGrid(resnetMicro(), 32), 4);
  assert.equal(resnetGrid(resnetMicro(), 16), 2);

  const feats = stages[4];
  const tokens = r.forwardTokens(x);
  assert.deepEqual(tokens.shape, [2, 17, 128]);
  const tv = (await tokens.data()) as Float32Array;
  const fv = (await feats.data()) as Float32Array;
  let d = 0;
  for (let b = 0; b < 2; b++)
    for (let c = 0; c < 128; c++) {
      let m = 0;
      for (let i = 0; i < 16; i++) m += fv[(b * 16 + i) * 128 + c] / 16;
      d = Math.max(d, Math.abs(m - tv[b * 17 * 128 + c]));
      d = Math.max(d, Math.abs(fv[(b * 16 + 5) * 128 + c] - tv[(b * 17 + 6) * 128 + c]), 0);
    }
  assert.ok(d < 1e-5, `token 0 = spatial mean, token 1 + i = grid cell i (|Δ| ${d})`);
  assert.ok(Math.min(...fv) >= 0, 'features follow a ReLU');
  tf.dispose([x, small, ...stages, tokens]);
  r.dispose();
});

test('eval mode uses the running statistics: batch-independent outputs', async () => {
  const r = new ResNet(resnetMicro(), 2);
  const x = randomImages(4, 16, 5);
  tf.dispose(r.forward(x)); // one training pass moves the running statistics
  r.training = false;
  const all = r.forward(x);
  const one = r.forward(tf.slice(x, [1, 0, 0, 0], [1, 16, 16, 3]));
  const a = ((await all.data()) as Float32Array).slice(1 * 4 * 128, 2 * 4 * 128);
  const o = (await one.data()) as Float32Array;
  let d = 0;
  for (let i = 0; i < o.length; i++) d = Math.max(d, Math.abs(a[i] - o[i]));
  assert.ok(d < 1e-5, `eval output of image 1 alone equals it inside the batch (|Δ| ${d})`);
  tf.dispose([x, all, one]);
  r.dispose();
});

test('resnet50 stage shapes on a 64-px input (forward only); CIM grids 5×5 context, 2×2 exemplar', () => {
  const r = new ResNet(resnet50(), 0);
  const x = randomImages(1, 64, 6);
  const stages = tf.tidy(() => r.forwardStages(x).map((s) => s.shape));
  assert.deepEqual(stages, [
    [1, 16, 16, 64],
    [1, 16, 16, 256],
    [1, 8, 8, 512],
    [1, 4, 4, 1024],
    [1, 2, 2, 2048],
  ]);
  assert.equal(resnetOutDim(resnet50()), 2048);
  assert.equal(resnetStride(resnet50()), 32);
  assert.equal(resnetGrid(resnet50(), 160), 5);
  assert.equal(resnetGrid(resnet50(), 64), 2);
  assert.equal(resnetGrid(resnet50(), 65), 3, 'PyTorch rounding: ceil at each stride-2 layer');
  x.dispose();
  r.dispose();
});

test('configs are checked: grids below 2×2 are refused', () => {
  assert.doesNotThrow(() => cimResnet50());
  assert.doesNotThrow(() => cimResnetMicro());
  assert.throws(() => cimResnet50({ templateSize: 32 }), /grids must be ≥ 2/);
  assert.throws(() => cimResnetMicro({ templateSize: 8 }), /grids must be ≥ 2/);
  assert.throws(() => resnetMicro({ widths: [16, 32] }), /same non-zero length/);
});
