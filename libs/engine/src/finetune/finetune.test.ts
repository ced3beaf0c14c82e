import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CimViT, cimVitMicroPatch4, classifierConfigOf, newVariable, parseSafetensors, VitClassifier } from '@cim-forge/cim';
import { LocalCheckpointStore } from '../checkpoint-store.ts';
import { JsonlMetricsSink } from '../metrics-sink.ts';
import { modelToSafetensors } from '../checkpoint.ts';
import { finetune, rankBatchSize, readEncoderFile, stepSeed, trainBatch } from './finetune.ts';
import { deriveFinetunePlan, resolveFinetuneConfig, type FinetuneConfig } from '@cim-forge/config';
import { LayerwiseAdamW } from './layerwise-adamw.ts';
import { epochPermutationOf, loadLabelledImages } from './labelled-data.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

const train = await loadLabelledImages({ kind: 'fashion-mnist', split: 'train', limit: 512 }, 32);
const heldOut = await loadLabelledImages({ kind: 'fashion-mnist', split: 'test', limit: 500 }, 32);
const small = { model: 'cimVitMicroPatch4' as const, modelOverrides: { embedDim: 32, depth: 1, numHeads: 2 } };

async function tensorsOf(store: LocalCheckpointStore, file: string): Promise<Map<string, Float32Array>> {
  const list = await store.list();
  const f = parseSafetensors(await store.read(list.at(-1)!.id, file));
  return new Map([...f.tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let d = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

test('from scratch on 512 Fashion-MNIST images, 12 epochs: held-out top-1 > 50% (chance 10%); metrics JSONL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ft-learn-'));
  const config = resolveFinetuneConfig({
    ...small,
    epochs: 12,
    warmupEpochs: 1,
    batchSize: 16,
    baseLr: 0.16,
    layerDecay: 1,
    dropPath: 0,
    mixup: 0,
    cutmix: 0,
    reprob: 0,
    randAugment: null,
    labelSmoothing: 0.1,
  });
  const counts: number[] = [];
  const r = await finetune({
    config,
    data: { train, eval: heldOut },
    metrics: new JsonlMetricsSink(join(dir, 'metrics.jsonl')),
    hooks: { onStep: () => counts.push(tf.memory().numTensors) },
  });
  assert.equal(r.steps, 12 * 32);
  assert.equal(r.evals.length, 12);
  assert.ok(r.evals[0].top1 < r.top1, `top-1 improves: ${r.evals.map((e) => e.top1).join(' ')}`);
  assert.ok(r.top1 > 0.5, `held-out top-1 ${r.top1}`);
  assert.ok(r.lateLoss! < r.earlyLoss! - 0.5, `loss ${r.earlyLoss} → ${r.lateLoss}`);
  assert.equal(Math.min(...counts), Math.max(...counts), 'numTensors flat across steps');
  const rows = (await readFile(join(dir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(rows.filter((x) => x.eval_top1 !== undefined).length, 12);
  assert.equal(rows.filter((x) => x.loss !== undefined).length, 12 * 32);
  console.log(`scratch: top-1 by epoch ${r.evals.map((e) => e.top1.toFixed(3)).join(' ')}; ${r.imagesPerSec.toFixed(0)} img/s`);
});

test('exact resume with every augmentation on: 6 steps straight = 3 + resume 3 (weights and moments within 1e-6)', async () => {
  const before = tf.memory().numTensors;
  const config: FinetuneConfig = resolveFinetuneConfig({
    ...small,
    modelOverrides: { embedDim: 32, depth: 2, numHeads: 2 },
    epochs: 1,
    warmupEpochs: 0.25,
    batchSize: 8,
    labelsFraction: 0.1,
    baseLr: 0.05,
    layerDecay: 0.75,
    dropPath: 0.2, // mixup, cutmix, erasing, RandAugment: the recipe's defaults
  });
  assert.ok(config.mixup > 0 && config.cutmix > 0 && config.reprob > 0 && config.randAugment);
  const a = new LocalCheckpointStore(await mkdtemp(join(tmpdir(), 'ft-straight-')));
  const b = new LocalCheckpointStore(await mkdtemp(join(tmpdir(), 'ft-split-')));
  const data = { train, eval: heldOut };
  const straight = await finetune({ config, data, store: a, maxSteps: 6 });
  assert.equal(straight.trainImages, 50, 'labelsFraction 0.1 of 512 balanced images: 5 per class');
  const first = await finetune({ config, data, store: b, maxSteps: 3 });
  assert.equal(first.steps, 3);
  const second = await finetune({ config, data, store: b, maxSteps: 3, resume: true });
  assert.equal(second.steps, 3);
  const wa = await tensorsOf(a, 'model.safetensors');
  const wb = await tensorsOf(b, 'model.safetensors');
  assert.ok(wa.has('head.weight') && wa.has('fc_norm.bias') && wa.has('blocks.1.mlp.fc2.weight') && wa.has('pos_embed'));
  assert.ok(maxAbsDiff(wa, wb) <= 1e-6, `weights differ by ${maxAbsDiff(wa, wb)}`);
  assert.ok(maxAbsDiff(await tensorsOf(a, 'optimizer.safetensors'), await tensorsOf(b, 'optimizer.safetensors')) <= 1e-6);
  assert.equal(straight.weightsDigest, second.weightsDigest);
  // and the run did move the weights: a 3-step run differs
  const c = new LocalCheckpointStore(await mkdtemp(join(tmpdir(), 'ft-3-')));
  await finetune({ config, data, store: c, maxSteps: 3 });
  assert.ok(maxAbsDiff(wa, await tensorsOf(c, 'model.safetensors')) > 1e-4);
  assert.equal(tf.memory().numTensors, before, 'finetune leaves no tensors behind');
});

test('from a CIM checkpoint (target encoder): loads blocks_c, trains, and a 48-px run resizes pos_embed', async () => {
  const cim = new CimViT(cimVitMicroPatch4({ embedDim: 32, depth: 1, numHeads: 2, decoderEmbedDim: 32, decoderNumHeads: 2 }), 4);
  const dir = await mkdtemp(join(tmpdir(), 'ft-init-'));
  const path = join(dir, 'model.safetensors');
  await writeFile(path, await modelToSafetensors(cim));
  cim.dispose();
  const data48 = {
    train: await loadLabelledImages({ kind: 'fashion-mnist', split: 'train', limit: 64 }, 48),
    eval: await loadLabelledImages({ kind: 'fashion-mnist', split: 'test', limit: 32 }, 48),
  };
  const logs: string[] = [];
  const r = await finetune({
    config: resolveFinetuneConfig({ initFrom: path, encoder: 'target', imgSize: 48, epochs: 1, batchSize: 16 }),
    data: data48,
    maxSteps: 2,
    hooks: { log: (m) => logs.push(m) },
  });
  assert.equal(r.steps, 2);
  assert.ok(Number.isFinite(r.lastLoss!));
  assert.match(logs.join('\n'), /encoder: 17 tensors \(target\)/);
});

test('layer-wise AdamW: the first step moves each parameter by lr × its scale (Adam’s first step is lr·sign g)', async () => {
  const mk = (v: number) => newVariable(tf.fill([3], v), true);
  const head = mk(1);
  const block = mk(1);
  const embed = mk(1);
  const opt = new LayerwiseAdamW(
    [
      { name: 'head.weight', variable: head, decay: true, lrScale: 1 },
      { name: 'blocks.0.attn.qkv.weight', variable: block, decay: true, lrScale: 0.8 ** 4 },
      { name: 'cls_token', variable: embed, decay: false, lrScale: 0.8 ** 5 },
    ],
    { weightDecay: 0 },
  );
  assert.equal(new Set(opt.scales.values()).size, 3);
  const g = () => tf.fill([3], 0.5);
  const grads = new Map([
    ['head.weight', g()],
    ['blocks.0.attn.qkv.weight', g()],
    ['cls_token', g()],
  ]);
  opt.apply(grads, 0.01);
  tf.dispose([...grads.values()]);
  const moved = async (v: tf.Variable) => 1 - ((await v.data()) as Float32Array)[0];
  assert.ok(Math.abs((await moved(head)) - 0.01) < 1e-6);
  assert.ok(Math.abs((await moved(block)) - 0.01 * 0.4096) < 1e-6);
  assert.ok(Math.abs((await moved(embed)) - 0.01 * 0.32768) < 1e-6);
  assert.equal(opt.step, 1);
  opt.dispose();
  tf.dispose([head, block, embed]);
});

test('a CIM model.safetensors (modelToSafetensors) read by readEncoderFile: classifier encoder = CimViT.forwardEncoder within 1e-5', async () => {
  const cim = new CimViT(cimVitMicroPatch4(), 11);
  cim.momentumUpdate(0.5); // target = online here; perturb the online blocks so online ≠ target
  tf.tidy(() => {
    for (const [name, v] of cim.params) if (name.startsWith('blocks.0.')) v.assign(tf.mul(v, 1.1));
  });
  const path = join(await mkdtemp(join(tmpdir(), 'ft-parity-')), 'model.safetensors');
  await writeFile(path, await modelToSafetensors(cim));
  const { get, encoder } = await readEncoderFile(path);
  assert.deepEqual(encoder, cim.config, 'the encoder config travels in the metadata');
  const x = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const diff = async (which: 'online' | 'target') => {
    const clf = new VitClassifier(classifierConfigOf(encoder!, { numClasses: 10, dropPath: 0.3 }), 0);
    clf.loadEncoder(get, which);
    const [a, b] = tf.tidy(() => [clf.forwardEncoder(x), which === 'online' ? cim.forwardEncoder(x) : cim.forwardTargetEncoder(x)]);
    const [da, db] = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
    tf.dispose([a, b]);
    clf.dispose();
    return da.reduce((m, v, i) => Math.max(m, Math.abs(v - db[i])), 0);
  };
  assert.ok((await diff('online')) < 1e-5);
  assert.ok((await diff('target')) < 1e-5);
  tf.dispose(x);
  cim.dispose();
});

test('the default warm-up scales with the run (the recipe’s 5 of 100 epochs); a warm-up as long as the run is warned about', async () => {
  assert.equal(resolveFinetuneConfig({ epochs: 5 }).warmupEpochs, 0.25);
  assert.equal(resolveFinetuneConfig({ epochs: 100 }).warmupEpochs, 5);
  assert.equal(resolveFinetuneConfig({ epochs: 300 }).warmupEpochs, 5);
  assert.equal(resolveFinetuneConfig({ epochs: 5, warmupEpochs: 2 }).warmupEpochs, 2);
  const lines: string[] = [];
  const config = resolveFinetuneConfig({ ...small, epochs: 1, warmupEpochs: 1, batchSize: 64, mixup: 0, cutmix: 0, randAugment: null });
  await finetune({
    config,
    data: {
      train: { ...train, size: 128, pixels: train.pixels.subarray(0, 128 * 32 * 32 * 3), labels: train.labels.subarray(0, 128) },
      eval: heldOut,
    },
    hooks: { log: (m) => lines.push(m) },
  });
  const warning = lines.find((l) => l.startsWith('warning: the warm-up'));
  assert.ok(warning, lines.join('\n'));
  // 2 steps of 64, warm-up over both: the highest lr is step 1's, half the peak 1.2e-3 × 64/256 = 3e-4
  assert.match(warning, /never reaches its peak 3\.00e-4 \(at most 1\.50e-4\)/);
  const quiet: string[] = [];
  await finetune({
    config: { ...config, warmupEpochs: 0.5 },
    data: {
      train: { ...train, size: 128, pixels: train.pixels.subarray(0, 128 * 32 * 32 * 3), labels: train.labels.subarray(0, 128) },
      eval: heldOut,
    },
    hooks: { log: (m) => quiet.push(m) },
  });
  assert.equal(quiet.filter((l) => l.startsWith('warning')).length, 0);
});

test('trainBatch shards: rank r of 2 gets its half of the global batch (same epoch permutation); a batch that does not split is refused', () => {
  const c = resolveFinetuneConfig({ ...small, batchSize: 16, epochs: 1, mixup: 0, cutmix: 0, reprob: 0, randAugment: null });
  const subset = Array.from({ length: 64 }, (_, i) => i);
  const plan = deriveFinetunePlan(c, subset.length, 32, 10);
  const perm = epochPermutationOf(subset.length, c.seed, 0);
  const whole = trainBatch(c, train, subset, plan, 1, perm);
  const halves = [0, 1].map((rank) => trainBatch(c, train, subset, plan, 1, perm, { rank, worldSize: 2 }));
  const per = 32 * 32 * 3;
  for (const [rank, h] of halves.entries()) {
    assert.equal(h.x.length, 8 * per);
    assert.deepEqual(h.x, whole.x.subarray(rank * 8 * per, (rank + 1) * 8 * per));
    assert.deepEqual(h.targets, whole.targets.subarray(rank * 80, (rank + 1) * 80));
  }
  assert.equal(rankBatchSize(16, 2), 8);
  assert.throws(() => rankBatchSize(16, 3), /a batch of 16 does not split evenly over 3 ranks/);
  // one process keeps its seeds; each rank of a gang draws its own
  assert.equal(stepSeed(0, 5, 0xd9), stepSeed(0, 5, 0xd9, { rank: 0, worldSize: 1 }));
  assert.notEqual(stepSeed(0, 5, 0xd9, { rank: 0, worldSize: 2 }), stepSeed(0, 5, 0xd9, { rank: 1, worldSize: 2 }));
});
