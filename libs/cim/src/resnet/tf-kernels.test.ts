import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { ResnetClassifier } from '../classifier/resnet-classifier.ts';
import { Rng } from '../rng.ts';
import { initTestBackend } from '../testing/index.ts';
import { resnetMicro } from './config.ts';
import { fusedTfKernels, setFusedTfKernels, tfConv2d } from './tf-kernels.ts';

const backend = await initTestBackend();
const skip = backend !== 'tensorflow' ? 'the fused kernels are registered for the tensorflow backend only' : false;

/** max |a − b| / max |b| */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-12);
}

test(
  'CimConv2D equals pad + conv2d (PyTorch padding) in value and both gradients, stride 1 and 2, 3×3 and 1×1, narrow and wide inputs',
  { skip },
  () => {
    // C = 32 at stride 1 takes the dx-as-forward-convolution path
    for (const [k, stride, side, c] of [
      [3, 1, 8, 3],
      [3, 1, 6, 32],
      [3, 2, 8, 3],
      [3, 2, 7, 3],
      [1, 2, 8, 3],
    ]) {
      const pad = Math.floor(k / 2);
      const x = tf.randomNormal([2, side, side, c], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([k, k, c, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
      const ref = (a: tf.Tensor, f: tf.Tensor) =>
        tf.conv2d(
          tf.pad(a, [
            [0, 0],
            [pad, pad],
            [pad, pad],
            [0, 0],
          ]) as tf.Tensor4D,
          f as tf.Tensor4D,
          stride,
          'valid',
        );
      const yRef = ref(x, w);
      const dy = tf.randomNormal(yRef.shape, 0, 1, 'float32', 3);
      const ours = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(tfConv2d(a as tf.Tensor4D, f, stride, pad), dy)))([x, w]);
      const theirs = tf.grads((a: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(ref(a, f), dy)))([x, w]);
      const y = tfConv2d(x, w, stride, pad);
      assert.deepEqual(y.shape, yRef.shape);
      const d = [
        relDiff(y.dataSync(), yRef.dataSync()),
        relDiff(ours[0].dataSync(), theirs[0].dataSync()),
        relDiff(ours[1].dataSync(), theirs[1].dataSync()),
      ];
      assert.ok(
        d.every((v) => v < 1e-5),
        `k ${k} stride ${stride} side ${side} C ${c}: y ${d[0]}, dx ${d[1]}, dW ${d[2]}`,
      );
      tf.dispose([x, w, yRef, dy, y, ...ours, ...theirs]);
    }
  },
);

test(
  'a ResNet classifier on the fused kernels computes what the composite ops compute: ' +
    'logits, every gradient, running statistics, eval output and the input gradient PGD takes',
  { skip },
  () => {
    const x = tf.randomNormal([6, 16, 16, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const run = (fused: boolean) => {
      setFusedTfKernels(fused);
      assert.equal(fusedTfKernels(), fused);
      const m = new ResnetClassifier({ backbone: resnetMicro({ widths: [8, 8, 16, 16], stemWidth: 8 }), imgSize: 16, numClasses: 5 }, 3);
      const vars = m.trainableNames().map((n) => m.p(n));
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(m.forward(x, new Rng(0)))) as tf.Scalar, vars);
      const out = {
        loss: value.dataSync()[0],
        grads: vars.map((v) => grads[v.name].dataSync().slice()),
        runningVar: m.p('layer2.0.bn1.running_var').dataSync().slice(),
        runningMean: m.p('layer3.0.downsample.1.running_mean').dataSync().slice(),
      };
      tf.dispose([value, ...Object.values(grads)]);
      const ev = tf.tidy(() => m.forward(x));
      const gx = tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.square(m.forward(xx as tf.Tensor4D))))(x));
      const result = { ...out, eval: ev.dataSync().slice(), inputGrad: gx.dataSync().slice() };
      tf.dispose([ev, gx]);
      const leaked = tf.memory().numTensors - before;
      m.dispose();
      return { ...result, leaked };
    };
    try {
      const composite = run(false);
      const fused = run(true);
      assert.equal(composite.leaked, 0, 'the composite ops leave no tensors behind');
      assert.equal(fused.leaked, 0, 'the fused kernels leave no tensors behind');
      assert.ok(Math.abs(fused.loss - composite.loss) <= 1e-5 * Math.abs(composite.loss), `loss ${fused.loss} vs ${composite.loss}`);
      const dg = Math.max(...fused.grads.map((g, i) => relDiff(g, composite.grads[i])));
      assert.ok(dg < 1e-4, `gradients: relative max |Δ| ${dg}`);
      assert.ok(relDiff(fused.runningVar, composite.runningVar) < 1e-5, 'running variance (unbiased batch variance)');
      assert.ok(relDiff(fused.runningMean, composite.runningMean) < 1e-5, 'running mean');
      assert.ok(relDiff(fused.eval, composite.eval) < 1e-5, 'eval-mode logits');
      assert.ok(relDiff(fused.inputGrad, composite.inputGrad) < 1e-4, 'eval-mode input gradient');
    } finally {
      setFusedTfKernels(true);
      x.dispose();
    }
  },
);
