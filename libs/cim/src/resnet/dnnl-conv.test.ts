import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import { initTestBackend } from '../testing/index.ts';
import {
  dnnlBatchNormOn,
  dnnlConvOn,
  dnnlConvStatus,
  dnnlLoadError,
  dnnlVersion,
  dnnlZeroCopy,
  setDnnlBatchNorm,
  setDnnlConv,
  setDnnlZeroCopy,
} from './dnnl-conv.ts';
import { convOp, tfBatchNormTrain, tfConv2d } from './tf-kernels.ts';

const backend = await initTestBackend();
const skip =
  backend !== 'tensorflow'
    ? 'CimConv2D is registered for the tensorflow backend only'
    : dnnlVersion() === null
      ? `the cim_dnnl addon is not built (${dnnlLoadError()}; scripts/native-dnnl.mjs needs libdnnl-dev)`
      : false;

/** max |a − b| / max |b| */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / Math.max(s, 1e-12);
}

test(
  "oneDNN's convolution equals libtensorflow's in value, dx and dFilter on random inputs (3×3 and 1×1, stride 1 and 2, odd sides, C from 3 to 64)",
  { skip },
  () => {
    // [N, side, C, O, k, stride, pad]
    for (const [n, side, c, o, k, stride, pad] of [
      [2, 8, 3, 16, 3, 1, 1],
      [3, 7, 16, 32, 3, 2, 1],
      [2, 6, 32, 32, 3, 1, 1],
      [2, 9, 16, 32, 1, 2, 0],
      [1, 5, 64, 8, 3, 1, 0],
      [2, 4, 64, 128, 3, 2, 1],
    ]) {
      const x = tf.randomNormal([n!, side!, side!, c!], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([k!, k!, c!, o!], 0, 1, 'float32', 2);
      const oside = Math.floor((side! + 2 * pad! - k!) / stride!) + 1;
      const dy = tf.randomNormal([n!, oside, oside, o!], 0, 1, 'float32', 3);
      const a = { stride: stride!, pad: pad! };
      const results = [true, false].map((on) => {
        setDnnlConv(on);
        return (['fwd', 'dx', 'dw'] as const).map((kind) => {
          const t = convOp(kind, x, w, kind === 'fwd' ? undefined : dy, a, tf.backend());
          const v = t.dataSync().slice();
          const shape = t.shape;
          t.dispose();
          return { v, shape };
        });
      });
      setDnnlConv(true);
      const [dn, ref] = results;
      const label = `x [${n}, ${side}, ${side}, ${c}], filter ${k}×${k}×${c}×${o}, stride ${stride}, pad ${pad}`;
      assert.deepEqual(dn![0]!.shape, [n, oside, oside, o], label);
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(dn![i]!.shape, ref![i]!.shape, `${label}: ${['y', 'dx', 'dW'][i]} shape`);
        const d = relDiff(dn![i]!.v, ref![i]!.v);
        assert.ok(
          d < 2e-6 * Math.sqrt(k! * k! * Math.max(c!, o!, n! * oside * oside)),
          `${label}: ${['y', 'dx', 'dW'][i]} differs by ${d.toExponential(2)}`,
        );
      }
      tf.dispose([x, w, dy]);
    }
  },
);

test('CimConv2D on oneDNN: gradients through tf.grads match the libtensorflow path, and no tensor leaks', { skip }, () => {
  const x = tf.randomNormal([4, 10, 10, 16], 0, 1, 'float32', 4) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 16, 32], 0, 0.2, 'float32', 5);
  const run = (on: boolean) => {
    setDnnlConv(on);
    const f = (xi: tf.Tensor, wi: tf.Tensor) => tf.sum(tf.square(tfConv2d(xi as tf.Tensor4D, wi, 2, 1)));
    const before = tf.memory().numTensors;
    const [gx, gw] = tf.grads(f)([x, w]);
    const out = [gx!.dataSync().slice(), gw!.dataSync().slice()];
    tf.dispose([gx!, gw!]);
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    return out;
  };
  const [dn, ref] = [run(true), run(false)];
  setDnnlConv(true);
  assert.ok(dnnlConvOn(), 'the addon is on after setDnnlConv(true)');
  assert.ok(relDiff(dn[0]!, ref[0]!) < 1e-5, `dx differs by ${relDiff(dn[0]!, ref[0]!)}`);
  assert.ok(relDiff(dn[1]!, ref[1]!) < 1e-5, `dW differs by ${relDiff(dn[1]!, ref[1]!)}`);
  tf.dispose([x, w]);
});

test('the addon refuses mismatched shapes with a message, not a crash', { skip }, () => {
  setDnnlConv(true);
  const x = tf.zeros([1, 4, 4, 3]);
  const w = tf.zeros([3, 3, 5, 2]); // C = 5 against x's 3
  assert.throws(() => convOp('fwd', x, w, undefined, { stride: 1, pad: 1 }, tf.backend()), /filter must be \[k, k, C, O\]/);
  tf.dispose([x, w]);
});

const bridgeSkip =
  skip ||
  (!dnnlZeroCopy(tf.backend()) ? 'the tfjs-node binding lacks the zero-copy bridge (node scripts/native-backend.mjs builds it)' : false);

/** The binding's own count of live TF tensor handles (tf.memory() counts tfjs' side only). */
const tfHandles = () => (tf.backend() as unknown as { binding: { getNumOfTensors(): number } }).binding.getNumOfTensors();
/** Gives tensors whose values still sit in JS their TF handles, so that handle counts compare like with like. */
const materialize = (...ts: tf.Tensor[]) =>
  (tf.backend() as unknown as { getInputTensorIds(t: tf.Tensor[]): number[] }).getInputTensorIds(ts);

test(
  'zero-copy: the addon reading and writing libtensorflow buffers in place gives bit-identical y, dx and dW to the copying path',
  { skip: bridgeSkip },
  () => {
    setDnnlConv(true);
    const x = tf.randomNormal([3, 9, 9, 16], 0, 1, 'float32', 6);
    const w = tf.randomNormal([3, 3, 16, 32], 0, 1, 'float32', 7);
    const dy = tf.randomNormal([3, 5, 5, 32], 0, 1, 'float32', 8);
    const a = { stride: 2, pad: 1 };
    materialize(x, w, dy);
    const results = [true, false].map((zc) => {
      setDnnlZeroCopy(zc);
      const before = [tf.memory().numTensors, tfHandles()];
      const out = (['fwd', 'dx', 'dw'] as const).map((kind) => {
        const t = convOp(kind, x, w, kind === 'fwd' ? undefined : dy, a, tf.backend());
        const v = t.dataSync().slice();
        t.dispose();
        return v;
      });
      assert.deepEqual([tf.memory().numTensors, tfHandles()], before, `zero-copy ${zc}: no tensor or TF handle left behind`);
      return out;
    });
    setDnnlZeroCopy(true);
    for (let i = 0; i < 3; i++) assert.deepEqual(results[0]![i], results[1]![i], `${['y', 'dx', 'dW'][i]} bit-identical`);
    tf.dispose([x, w, dy]);
  },
);

test(
  'zero-copy: the address is the tensor buffer itself (stable, written in place), and a failed call leaks nothing',
  { skip: bridgeSkip },
  () => {
    const be = tf.backend() as unknown as {
      binding: { cimTensorAddress(id: number): [bigint, number] };
      getInputTensorIds(t: tf.Tensor[]): number[];
    };
    const x = tf.relu(tf.tensor([-1, 2, -3, 4], [4]));
    const [id] = be.getInputTensorIds([x]);
    const [a1, bytes] = be.binding.cimTensorAddress(id!);
    assert.equal(be.binding.cimTensorAddress(id!)[0], a1, 'the same buffer each time (no copy)');
    assert.equal(bytes, 16);
    tf.dispose(x);
    setDnnlConv(true);
    const bad = tf.zeros([1, 4, 4, 3]);
    const w = tf.zeros([3, 3, 5, 2]);
    materialize(bad, w);
    const before = [tf.memory().numTensors, tfHandles()];
    assert.throws(() => convOp('fwd', bad, w, undefined, { stride: 1, pad: 1 }, tf.backend()), /filter must be/);
    assert.deepEqual([tf.memory().numTensors, tfHandles()], before, 'the refused call disposed its output');
    tf.dispose([bad, w]);
  },
);

test('zero-copy: 200 forward/dx/dW calls keep tensors, TF handles and RSS flat', { skip: bridgeSkip }, () => {
  setDnnlConv(true);
  const x = tf.randomNormal([8, 16, 16, 32], 0, 1, 'float32', 9);
  const w = tf.randomNormal([3, 3, 32, 32], 0, 1, 'float32', 10);
  const dy = tf.randomNormal([8, 16, 16, 32], 0, 1, 'float32', 11);
  const step = () => {
    for (const kind of ['fwd', 'dx', 'dw'] as const)
      convOp(kind, x, w, kind === 'fwd' ? undefined : dy, { stride: 1, pad: 1 }, tf.backend()).dispose();
  };
  for (let i = 0; i < 20; i++) step(); // primitives built, allocator warm
  const before = [tf.memory().numTensors, tfHandles()];
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 200; i++) step();
  const grown = process.memoryUsage().rss - rss0;
  assert.deepEqual([tf.memory().numTensors, tfHandles()], before, 'no tensor or TF handle left behind');
  // 600 outputs of 256 KiB (y, dx) and 36 KiB (dW): a leak of them would be > 100 MiB
  assert.ok(grown < 16 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB over 200 calls`);
  tf.dispose([x, w, dy]);
});

test(
  "BatchNorm on oneDNN (training) equals libtensorflow's FusedBatchNorm: y, batch statistics, dx, dγ, dβ; nothing leaks",
  { skip: bridgeSkip },
  () => {
    const x = tf.randomNormal([64 * 5, 24], 0.5, 2, 'float32', 12);
    const gamma = tf.randomNormal([24], 1, 0.3, 'float32', 13);
    const beta = tf.randomNormal([24], 0, 0.3, 'float32', 14);
    const dy = tf.randomNormal([64 * 5, 24], 0, 1, 'float32', 15);
    materialize(x, gamma, beta, dy);
    const run = (on: boolean) => {
      setDnnlBatchNorm(on);
      const before = [tf.memory().numTensors, tfHandles()];
      const { value, grads } = tf.valueAndGrads((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tfBatchNormTrain(xi, g, b, 1e-5).y, dy)),
      )([x, gamma, beta]);
      const stats = tfBatchNormTrain(x, gamma, beta, 1e-5);
      const out = [stats.y, stats.mean, stats.variance, ...grads].map((t) => t.dataSync().slice());
      tf.dispose([value, ...grads, stats.y, stats.mean, stats.variance]);
      assert.deepEqual([tf.memory().numTensors, tfHandles()], before, `oneDNN BatchNorm ${on}: nothing left behind`);
      return out;
    };
    const [dn, ref] = [run(true), run(false)];
    setDnnlBatchNorm(false);
    ['y', 'batch mean', 'unbiased batch variance', 'dx', 'dγ', 'dβ'].forEach((what, i) => {
      const d = relDiff(dn[i]!, ref[i]!);
      assert.ok(d < 1e-5, `${what} differs by ${d.toExponential(2)}`);
    });
    tf.dispose([x, gamma, beta, dy]);
  },
);

test(
  'auto: without the zero-copy bridge in the binding, CimConv2D and BatchNorm stay on libtensorflow and the status says why',
  { skip },
  () => {
    setDnnlConv('auto');
    const plain = { binding: { TF_FLOAT: 1 } }; // an official tfjs-node binding: no cimTensorAddress / cimAllocTensor
    assert.equal(dnnlConvOn(plain), false);
    assert.equal(dnnlBatchNormOn(plain), false);
    assert.match(dnnlConvStatus(plain), /lacks the zero-copy bridge: node scripts\/native-backend\.mjs/);
    setDnnlConv(false);
    assert.match(dnnlConvStatus(), /oneDNN turned off/);
    setDnnlConv('auto');
    if (!bridgeSkip) assert.match(dnnlConvStatus(), /^oneDNN \d+\.\d+\.\d+, zero-copy$/);
  },
);

test("a rank process's oneDNN takes libtensorflow's thread count (--ranks N: cores/N), a lone process every core", { skip }, () => {
  // before this, two ranks each ran oneDNN on both cores: 580 img/s against 950–963 (docs/benchmarks.md)
  const module = fileURLToPath(new URL('./dnnl-conv.ts', import.meta.url));
  const probe = `const m = await import(${JSON.stringify(module)}); console.log(m.dnnlThreads());`;
  const threadsWith = (env: Record<string, string | undefined>) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  assert.equal(threadsWith({ TF_NUM_INTRAOP_THREADS: '1' }), 1);
  assert.equal(threadsWith({ TF_NUM_INTRAOP_THREADS: '2' }), 2);
  assert.equal(threadsWith({ TF_NUM_INTRAOP_THREADS: undefined }), 0);
});
