import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { cimModelFromConfig, type CimBatch } from '@cim-forge/cim';
import { CimTrainer, NonFiniteLossError } from './trainer.ts';
import { deriveTrainPlan, modelConfigOf } from '@cim-forge/config';
import { syntheticBatches, tinyConfig } from './testing.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

function trainerFor(config = tinyConfig(), seed = 0) {
  const model = cimModelFromConfig(modelConfigOf(config), seed);
  const plan = deriveTrainPlan(config, 64);
  return new CimTrainer(model, config, plan);
}

function concatBatches(a: CimBatch, b: CimBatch): CimBatch {
  // template-major layout: interleave per template
  const T = a.numExemplars;
  const cat = <A extends Float32Array | Uint8Array>(x: A, y: A, per: number): A => {
    const out = new (x.constructor as new (n: number) => A)(x.length + y.length);
    for (let t = 0; t < T; t++) {
      out.set(x.subarray(t * per * a.batchSize, (t + 1) * per * a.batchSize), t * per * (a.batchSize + b.batchSize));
      out.set(y.subarray(t * per * b.batchSize, (t + 1) * per * b.batchSize), t * per * (a.batchSize + b.batchSize) + per * a.batchSize);
    }
    return out;
  };
  const C = a.contextSize;
  const S = a.exemplarSize;
  const ctx = new Float32Array(a.context.length + b.context.length);
  ctx.set(a.context);
  ctx.set(b.context, a.context.length);
  return {
    ...a,
    batchSize: a.batchSize + b.batchSize,
    context: ctx,
    exemplars: cat(a.exemplars, b.exemplars, S * S * 3),
    masks: cat(a.masks, b.masks, C * C),
  };
}

/** A full garbage collection (tests run without --expose-gc; V8 can grant it at run time). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

test('memory stays flat over 50 training steps: tf.memory().numTensors exactly, RSS within 5% after warm-up', async (t) => {
  const config = tinyConfig();
  const trainer = trainerFor(config);
  const batches = syntheticBatches(config, 4);
  await trainer.trainStep([batches[0]]); // first step creates nothing that lasts beyond the optimizer's moments
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const rss: number[] = [];
  for (let i = 1; i <= 50; i++) {
    await trainer.trainStep([batches[i % batches.length]]);
    counts.push(tf.memory().numTensors);
    // warm-up: 10 steps (allocator pools, JIT); RSS measured after a full GC, so JS garbage between
    // collections (~0.5 MB a step, collected by V8 in its own time) does not count as growth
    if (i % 10 === 0) {
      collectGarbage();
      rss.push(process.memoryUsage().rss);
    }
  }
  assert.deepEqual(new Set(counts), new Set([before]), `tensor counts over 50 steps: ${counts.join(',')} (start ${before})`);
  const [base, ...after] = rss;
  const worst = Math.max(...after);
  t.diagnostic(
    `${tf.getBackend()}: ${before} tensors at every step; RSS after GC at steps 10..50: ` +
      `${rss.map((r) => (r / 2 ** 20).toFixed(1)).join(', ')} MiB (max ` +
      `${((worst / base - 1) * 100).toFixed(2)}% over step 10)`,
  );
  assert.ok(worst <= base * 1.05, `RSS grew ${((worst / base - 1) * 100).toFixed(1)}% after warm-up`);
  trainer.dispose();
  trainer.model.dispose();
});

test('gradient accumulation: 2 micro-batches of b give the gradient of one batch of 2b', async () => {
  const c1 = tinyConfig({ batchSize: 4, accumIter: 2 });
  const c2 = tinyConfig({ batchSize: 8, accumIter: 1 });
  const [a, b] = syntheticBatches(c1, 2);
  const t1 = trainerFor(c1, 7);
  const t2 = trainerFor(c2, 7);
  const g1 = await t1.gradients([a, b]);
  const g2 = await t2.gradients([concatBatches(a, b)]);
  assert.ok(Math.abs(g1.loss - g2.loss) < 1e-5 * Math.abs(g2.loss), `loss ${g1.loss} vs ${g2.loss}`);
  let worst = 0;
  let scale = 0;
  for (const name of t1.model.trainableNames()) {
    const x = g1.grads.get(name)!.dataSync();
    const y = g2.grads.get(name)!.dataSync();
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
      scale = Math.max(scale, Math.abs(y[i]));
    }
  }
  assert.ok(scale > 1e-3, `gradients are not trivially zero (max ${scale})`);
  assert.ok(worst < 1e-5 * scale, `largest gradient difference ${worst} (max |g| ${scale})`);
  // and half a batch alone gives a clearly different gradient: the check can fail
  const half = await t2.gradients([a]);
  let diff = 0;
  for (const name of t1.model.trainableNames()) {
    const x = half.grads.get(name)!.dataSync();
    const y = g2.grads.get(name)!.dataSync();
    for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
  }
  assert.ok(diff > 100 * worst, `half a batch differs by ${diff}`);
  tf.dispose([...g1.grads.values(), ...g2.grads.values(), ...half.grads.values()]);
  for (const t of [t1, t2]) {
    t.dispose();
    t.model.dispose();
  }
});

test('the schedule drives lr and momentum; the target encoder moves toward the online one', async () => {
  const config = tinyConfig({ warmupEpochs: 0.5, epochs: 1 });
  const trainer = trainerFor(config);
  const plan = trainer.plan;
  assert.equal(plan.stepsPerEpoch, 16);
  assert.equal(trainer.lrAt(0), 0);
  assert.ok(Math.abs(trainer.lrAt(8) - plan.peakLr) < 1e-12);
  assert.ok(Math.abs(trainer.momentumAt(0) - 0.99) < 1e-12);
  const batches = syntheticBatches(config, 2);
  const target0 = trainer.model.p('blocks_c.0.attn.qkv.weight').dataSync().slice();
  const online0 = trainer.model.p('blocks.0.attn.qkv.weight').dataSync().slice();
  assert.deepEqual(target0, online0, 'target starts as a copy of the online encoder');
  await trainer.trainStep([batches[0]]); // lr 0 at step 0: nothing moves
  await trainer.trainStep([batches[1]]);
  const online = trainer.model.p('blocks.0.attn.qkv.weight').dataSync();
  const target = trainer.model.p('blocks_c.0.attn.qkv.weight').dataSync();
  // after step 2: target = m·target + (1−m)·online with m = momentumAt(1)
  const m = trainer.momentumAt(1);
  let err = 0;
  for (let i = 0; i < target.length; i++) err = Math.max(err, Math.abs(target[i] - (m * online0[i] + (1 - m) * online[i])));
  assert.ok(err < 1e-6, `EMA error ${err}`);
  trainer.dispose();
  trainer.model.dispose();
});

test('clipping by global norm bounds the update; a non-finite loss stops the run with a message', async () => {
  const config = tinyConfig({ clipGrad: 0.01 });
  const trainer = trainerFor(config);
  const [batch] = syntheticBatches(config, 1);
  await trainer.trainStep([batch]);
  const r = await trainer.trainStep([batch]);
  assert.ok(r.gradNorm !== null && r.gradNorm > 0.01, `grad norm ${r.gradNorm} is reported before clipping`);
  const bad = { ...batch, context: batch.context.map(() => NaN) };
  await assert.rejects(
    () => trainer.trainStep([bad]),
    (e: Error) => e instanceof NonFiniteLossError && /non-finite loss/.test(e.message),
  );
  trainer.dispose();
  trainer.model.dispose();
});
