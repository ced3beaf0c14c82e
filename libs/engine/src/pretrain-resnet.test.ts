import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { cimModelConfigFromMetadata, createCimModel, parseSafetensors, type CimModel } from '@cim-forge/cim';
import { evaluateOn, pretrain } from './pretrain.ts';
import { LocalCheckpointStore } from './checkpoint-store.ts';
import { loadModelSafetensors, modelToSafetensors } from './checkpoint.ts';
import { modelConfigOf, deriveTrainPlan, resolvePretrainConfig, samplerConfigOf } from '@cim-forge/config';
import { CimTrainer } from './trainer.ts';
import { readEncoderFile } from './finetune/finetune.ts';
import type { Collective } from './collective.ts';
import { syntheticBatches, tinyConfig, tinyResNetConfig } from './testing.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

async function latestWeights(dir: string): Promise<Map<string, Float32Array>> {
  const store = new LocalCheckpointStore(dir);
  const list = await store.list();
  const f = parseSafetensors(await store.read(list.at(-1)!.id, 'model.safetensors'));
  return new Map([...f.tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

/** max over tensors of max|a − b| / max|b| */
function maxRelErr(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    let d = 0;
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      d = Math.max(d, Math.abs(x[i] - y[i]));
      s = Math.max(s, Math.abs(y[i]));
    }
    worst = Math.max(worst, d / (s || 1));
  }
  return worst;
}

test('config: ResNet names are model names; the sampler follows the ResNet sizes and must agree with them', () => {
  const c = resolvePretrainConfig('cpu-resnet');
  assert.equal(c.model, 'cimResnetMicro');
  const s = samplerConfigOf(c);
  assert.deepEqual([s.contextSize, s.exemplarSize, s.numExemplars], [32, 16, 6]);
  const big = resolvePretrainConfig('smoke', { model: 'cimResnet50', sampler: {} });
  assert.deepEqual([samplerConfigOf(big).contextSize, samplerConfigOf(big).exemplarSize], [160, 64]);
  assert.throws(() => tinyResNetConfig({ sampler: { contextSize: 48 } }), /sampler contextSize 48 differs from the model's 32/);
  assert.throws(
    () => tinyResNetConfig({ modelOverrides: { embedDim: 8 } }),
    /config: modelOverrides of cimResnetMicro: unknown field\(s\) embedDim/,
  );
  assert.throws(
    () => resolvePretrainConfig('smoke', { model: 'resnet9000' as never }),
    /model "resnet9000" is not one of .*cimResnetMicro/,
  );
});

test('pretrain a tiny CIM ResNet: loss falls by >70% over 40 steps; tensors flat; a self-describing checkpoint', async (t) => {
  const steps = 40;
  const config = tinyResNetConfig({ baseLr: 0.05, epochs: (steps * 4) / 64, warmupEpochs: 0.1, workers: 0, evalImages: 32 });
  const dir = await mkdtemp(join(tmpdir(), 'cim-resnet-'));
  const losses: number[] = [];
  const tensors: number[] = [];
  const r = await pretrain({
    config,
    store: new LocalCheckpointStore(dir),
    hooks: {
      onStep: (s) => {
        losses.push(s.loss);
        tensors.push(tf.memory().numTensors);
      },
    },
  });
  assert.equal(r.steps, steps);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [early, late] = [mean(losses.slice(0, 5)), mean(losses.slice(-5))];
  t.diagnostic(
    `loss first 5 steps ${early.toFixed(2)} → last 5 ${late.toFixed(2)}; tensors per step ` +
      `${Math.min(...tensors)}..${Math.max(...tensors)}; eval ${JSON.stringify(r.eval)}`,
  );
  // calibrated 2026-11-27 (wasm, seed 0): ~35 → ~5.6
  assert.ok(late < 0.3 * early, `loss fell from ${early.toFixed(2)} to ${late.toFixed(2)}, by less than 70%`);
  assert.ok(losses.every(Number.isFinite));
  assert.equal(Math.max(...tensors.slice(1)), Math.min(...tensors.slice(1)), `tensors per step: ${tensors.join(' ')}`);
  assert.ok(r.eval && r.eval.exemplars === 32 * 6 && r.eval.meanIoU >= 0 && r.eval.meanIoU <= 1 && Number.isFinite(r.eval.loss));

  const store = new LocalCheckpointStore(dir);
  const id = (await store.list()).at(-1)!.id;
  const file = parseSafetensors(await store.read(id, 'model.safetensors'));
  assert.equal(file.metadata.architecture, 'cim-resnet');
  assert.deepEqual(cimModelConfigFromMetadata(file.metadata), modelConfigOf(config));
  // BatchNorm running statistics travel with the weights, and have moved from their init (0 and 1)
  const rv = file.tensors.get('encoder_c.layer4.0.bn2.running_var')!.data as Float32Array;
  assert.ok(rv.length === 32 && rv.some((v) => Math.abs(v - 1) > 1e-3));
  const opt = parseSafetensors(await store.read(id, 'optimizer.safetensors'));
  assert.ok(opt.tensors.has('exp_avg/encoder.conv1.weight') && opt.tensors.has('exp_avg_sq/decoder_embed.weight'));
  assert.ok(!opt.tensors.has('exp_avg/encoder.bn1.running_mean') && !opt.tensors.has('exp_avg/encoder_c.conv1.weight'));
  const state = JSON.parse(new TextDecoder().decode(await store.read(id, 'state.json')));
  assert.equal(state.config.model, 'cimResnetMicro');
  assert.ok(tf.memory().numTensors < 50, `tensors left after the run: ${tf.memory().numTensors}`);
});

test('exact resume of a ResNet run: 6 steps straight = 3, stop, resume 3 (weights, target, BN statistics, moments)', async (t) => {
  const config = tinyResNetConfig({ checkpointEvery: 0, workers: 1 });
  const straight = await mkdtemp(join(tmpdir(), 'cim-resnet-straight-'));
  const split = await mkdtemp(join(tmpdir(), 'cim-resnet-split-'));
  assert.equal((await pretrain({ config, store: new LocalCheckpointStore(straight), maxSteps: 6 })).steps, 6);
  assert.equal((await pretrain({ config, store: new LocalCheckpointStore(split), maxSteps: 3 })).steps, 3);
  const logs: string[] = [];
  const b2 = await pretrain({
    config,
    store: new LocalCheckpointStore(split),
    resume: true,
    maxSteps: 3,
    hooks: { log: (m) => logs.push(m) },
  });
  assert.equal(b2.steps, 3, logs.join('\n'));
  const [wa, wb] = [await latestWeights(straight), await latestWeights(split)];
  for (const k of [
    'encoder.layer1.0.conv1.weight',
    'encoder_c.layer2.0.downsample.1.running_mean',
    'encoder.bn1.running_var',
    'decoder_pred_mask.0.weight',
  ])
    assert.ok(wa.has(k), k);
  const err = maxRelErr(wa, wb);
  t.diagnostic(`max relative error, straight vs resumed, over ${wa.size} tensors: ${err}`);
  assert.ok(err <= 1e-6, `resumed run differs: relative error ${err}`);
  // the runs really moved between step 3 and 6, running statistics included
  const storeB = new LocalCheckpointStore(split);
  const at3 = parseSafetensors(await storeB.read('step-00000003', 'model.safetensors'));
  const w3 = new Map([...at3.tensors].map(([k, v]) => [k, v.data as Float32Array]));
  assert.ok(maxRelErr(w3, wb) > 1e-4);
  const stat = 'encoder_c.bn1.running_mean';
  assert.ok(maxRelErr(new Map([[stat, w3.get(stat)!]]), new Map([[stat, wb.get(stat)!]])) > 1e-4, 'running statistics moved');
  const optA = parseSafetensors(await new LocalCheckpointStore(straight).read('step-00000006', 'optimizer.safetensors'));
  const optB = parseSafetensors(await storeB.read('step-00000006', 'optimizer.safetensors'));
  const moments = (f: typeof optA) => new Map([...f.tensors].map(([k, v]) => [k, v.data as Float32Array]));
  assert.ok(maxRelErr(moments(optA), moments(optB)) <= 1e-6);
});

test('checkpoints say which model they hold: a ResNet file is refused by a ViT run by name; fine-tuning reads its ResNet encoder', async () => {
  const resnet = createCimModel('cimResnetMicro', { backbone: { widths: [8, 16, 16, 32], stemWidth: 8 } }, 1);
  const vit = createCimModel('cimVitMicroPatch4', { depth: 1 }, 1);
  const bytes = await modelToSafetensors(resnet);
  assert.throws(
    () => loadModelSafetensors(vit, bytes, 'r.safetensors'),
    /r\.safetensors holds a cim-resnet model; this run's model is a cim-vit/,
  );
  const vitBytes = await modelToSafetensors(vit);
  assert.throws(() => loadModelSafetensors(resnet, vitBytes, 'v'), /holds a cim-vit model; this run's model is a cim-resnet/);
  const path = join(await mkdtemp(join(tmpdir(), 'cim-resnet-ft-')), 'model.safetensors');
  await writeFile(path, bytes);
  // fine-tuning and probing take either backbone: the file's metadata gives the ResNet's shape and its weights
  const enc = await readEncoderFile(path);
  assert.ok(enc.encoder && 'backbone' in enc.encoder, 'a ResNet encoder config');
  assert.deepEqual(enc.encoder.backbone.widths, [8, 16, 16, 32]);
  assert.equal(enc.encoder.backbone.stemWidth, 8);
  const online = [...(await resnet.stateDict())].find(([k]) => k.startsWith('encoder.'))!;
  assert.deepEqual(enc.get(online[0])!.data, online[1].data, online[0]);
  // and a ResNet file round-trips bit-exactly into a fresh ResNet of the same shape
  const other = createCimModel('cimResnetMicro', { backbone: { widths: [8, 16, 16, 32], stemWidth: 8 } }, 2);
  loadModelSafetensors(other, bytes, 'r');
  const [sa, sb] = [await resnet.stateDict(), await other.stateDict()];
  for (const [k, v] of sa) assert.deepEqual(sb.get(k)!.data, v.data, k);
  for (const m of [resnet, vit, other]) m.dispose();
});

test('held-out evaluation runs BatchNorm on its running statistics and leaves them untouched', async () => {
  const config = tinyResNetConfig({ evalImages: 8 });
  const model = createCimModel(config.model, config.modelOverrides, 0);
  const before = await model.stateDict();
  const report = await evaluateOn(model, config, { kind: 'synthetic', size: 8, imageSize: 48, seed: 9 }, 4);
  assert.equal(report.exemplars, 8 * 6);
  assert.equal(model.training, true, 'training mode restored');
  const after = await model.stateDict();
  for (const [k, v] of before) assert.deepEqual(after.get(k)!.data, v.data, k);
  model.dispose();
});

/** Two ranks in one process: each allReduceMean waits for the other's array. */
function pairCollectives(): [Collective, Collective] {
  let pending: { data: Float32Array; resolve: (d: Float32Array) => void } | undefined;
  const make = (rank: number): Collective => ({
    rank,
    worldSize: 2,
    allReduceMean: (data) =>
      new Promise((resolve) => {
        if (!pending) {
          pending = { data, resolve };
          return;
        }
        const other = pending;
        pending = undefined;
        const avg = data.map((v, i) => (v + other.data[i]) / 2);
        other.resolve(avg);
        resolve(Float32Array.from(avg));
      }),
    broadcast: async (d) => d,
    barrier: async () => {},
    close: async () => {},
  });
  return [make(0), make(1)];
}

test('two ranks on different shards end with identical weights and BatchNorm statistics (the statistics are averaged)', async () => {
  const config = tinyResNetConfig();
  const plan = deriveTrainPlan(config, 32, 2);
  const [c0, c1] = pairCollectives();
  const models: CimModel[] = [0, 1].map(() => createCimModel(config.model, config.modelOverrides, 0));
  const trainers = [new CimTrainer(models[0], config, plan, c0), new CimTrainer(models[1], config, plan, c1)];
  const shards = [syntheticBatches(config, 2, 1), syntheticBatches(config, 2, 2)];
  for (let s = 0; s < 2; s++) await Promise.all(trainers.map((tr, r) => tr.trainStep([shards[r][s]])));
  const [a, b] = await Promise.all(models.map((m) => m.stateDict()));
  for (const [k, v] of a) assert.deepEqual(b.get(k)!.data, v.data, k);
  assert.ok(
    a.get('encoder.bn1.running_mean')!.data.some((v) => v !== 0),
    'statistics moved',
  );
  trainers.forEach((t) => t.dispose());
  models.forEach((m) => m.dispose());
  // a ViT has no statistics to average: its flat buffer is unchanged
  const vit = createCimModel(tinyConfig().model, tinyConfig().modelOverrides);
  assert.deepEqual(vit.bufferNames(), []);
  vit.dispose();
});
