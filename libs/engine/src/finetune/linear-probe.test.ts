import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CimViT, cimVitMicroPatch4 } from '@cim-forge/cim';
import { modelToSafetensors } from '../checkpoint.ts';
import { defaultProbeConfig, linearProbe, standardize } from './linear-probe.ts';
import { loadLabelledImages } from './labelled-data.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

const data = {
  train: await loadLabelledImages({ kind: 'fashion-mnist', split: 'train', limit: 1000 }, 32),
  eval: await loadLabelledImages({ kind: 'fashion-mnist', split: 'test', limit: 500 }, 32),
};

test('standardize: train columns get mean 0 and variance 1; eval uses the train statistics', () => {
  const x = Float32Array.from([1, 10, 3, 20, 5, 30]);
  const st = standardize(x, 2);
  assert.deepEqual([...st.mean], [3, 20]);
  assert.ok(Math.abs(x[0] + Math.sqrt(1.5)) < 1e-3 && Math.abs(x[4] - Math.sqrt(1.5)) < 1e-3);
  const y = Float32Array.from([3, 20]);
  standardize(y, 2, st);
  assert.deepEqual([...y], [0, 0]);
});

test('linear probe on a random-init encoder: held-out top-1 well above chance (10%); no tensors left', async () => {
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  const r = await linearProbe({
    config: { ...defaultProbeConfig, modelOverrides: { embedDim: 32, depth: 1, numHeads: 2 }, epochs: 30, batchSize: 100, lr: 1e-2 },
    data,
    onEpoch: (e) => losses.push(e.loss),
  });
  console.log(
    `probe (random encoder): train ${r.trainTop1.toFixed(3)} held-out ${r.top1.toFixed(3)}; features ${r.featureSeconds.toFixed(1)} s`,
  );
  assert.equal(r.trainImages, 1000);
  assert.equal(r.evalImages, 500);
  assert.equal(r.featureDim, 32);
  assert.ok(r.top1 > 0.4, `held-out top-1 ${r.top1}`);
  assert.ok(losses.at(-1)! < losses[0] - 0.3, `loss ${losses[0]} → ${losses.at(-1)}`);
  assert.equal(tf.memory().numTensors, before);
});

test('linear probe from a CIM checkpoint file with labelsFraction 0.1', async () => {
  const cim = new CimViT(cimVitMicroPatch4({ embedDim: 32, depth: 1, numHeads: 2, decoderEmbedDim: 32, decoderNumHeads: 2 }), 9);
  const path = join(await mkdtemp(join(tmpdir(), 'probe-')), 'model.safetensors');
  await writeFile(path, await modelToSafetensors(cim));
  cim.dispose();
  const logs: string[] = [];
  const r = await linearProbe({
    config: { ...defaultProbeConfig, initFrom: path, labelsFraction: 0.1, epochs: 20 },
    data,
    log: (m) => logs.push(m),
  });
  assert.equal(r.trainImages, 100);
  assert.match(logs[0], /encoder: 17 tensors \(online\)/);
  assert.ok(r.top1 > 0.3, `held-out top-1 ${r.top1}`);
});
