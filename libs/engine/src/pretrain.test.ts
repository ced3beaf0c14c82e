import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors } from '@cim-forge/cim';
import { pretrain } from './pretrain.ts';
import type { EngineEvent } from './run-scaffold.ts';
import { LocalCheckpointStore } from './checkpoint-store.ts';
import { JsonlMetricsSink } from './metrics-sink.ts';
import { tinyConfig } from './testing.ts';
import { initTestBackend } from '@cim-forge/cim/testing';

await initTestBackend();

async function weightsOf(dir: string): Promise<Map<string, Float32Array>> {
  const store = new LocalCheckpointStore(dir);
  const list = await store.list();
  const f = parseSafetensors(await store.read(list.at(-1)!.id, 'model.safetensors'));
  return new Map([...f.tensors].map(([k, v]) => [k, v.data as Float32Array]));
}

function maxRelErr(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
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

test('exact resume: 6 steps straight equal 3 steps, stop, resume for 3 (weights, target, moments)', async () => {
  const config = tinyConfig({ checkpointEvery: 0, workers: 1 });
  const straight = await mkdtemp(join(tmpdir(), 'cim-straight-'));
  const split = await mkdtemp(join(tmpdir(), 'cim-split-'));
  const a = await pretrain({ config, store: new LocalCheckpointStore(straight), maxSteps: 6 });
  assert.equal(a.steps, 6);
  const b1 = await pretrain({ config, store: new LocalCheckpointStore(split), maxSteps: 3 });
  assert.equal(b1.steps, 3);
  const b2 = await pretrain({ config, store: new LocalCheckpointStore(split), resume: true, maxSteps: 3 });
  assert.equal(b2.steps, 3);
  const wa = await weightsOf(straight);
  const wb = await weightsOf(split);
  assert.ok(wa.has('blocks_c.0.attn.qkv.weight') && wa.has('decoder_pred_mask.0.weight'));
  const err = maxRelErr(wa, wb);
  assert.ok(err <= 1e-6, `resumed run differs: relative error ${err}`);
  // the runs really moved: step 6 differs from step 3
  const mid = new Map((await weightsOf(split)).entries());
  const storeB = new LocalCheckpointStore(split);
  const ids = (await storeB.list()).map((m) => m.id);
  assert.deepEqual(ids, ['step-00000003', 'step-00000006']);
  const at3 = parseSafetensors(await storeB.read('step-00000003', 'model.safetensors'));
  const w3 = new Map([...at3.tensors].map(([k, v]) => [k, v.data as Float32Array]));
  assert.ok(maxRelErr(w3, mid) > 1e-4, 'weights at step 3 and 6 differ');
  const moments = parseSafetensors(await storeB.read('step-00000006', 'optimizer.safetensors'));
  assert.ok(moments.tensors.has('exp_avg_sq/blocks.0.attn.qkv.weight'));
  const state = JSON.parse(new TextDecoder().decode(await storeB.read('step-00000006', 'state.json')));
  assert.equal(state.step, 6);
  assert.deepEqual(state.data, { epoch: 0, cursor: 24 });
  assert.equal(state.config.seed, config.seed);
});

test('a corrupt checkpoint is never resumed from: the previous complete one is used', async () => {
  const config = tinyConfig({ checkpointEvery: 2, keepCheckpoints: 5, workers: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'cim-corrupt-'));
  await pretrain({ config, store: new LocalCheckpointStore(dir), maxSteps: 4 });
  assert.deepEqual((await readdir(dir)).sort(), ['step-00000002', 'step-00000004']);
  const f = join(dir, 'step-00000004', 'model.safetensors');
  const bytes = await readFile(f);
  bytes[bytes.length - 5] ^= 0xff;
  await writeFile(f, bytes);
  const logs: string[] = [];
  const events: EngineEvent[] = [];
  const r = await pretrain({
    config,
    store: new LocalCheckpointStore(dir),
    resume: true,
    maxSteps: 1,
    hooks: { log: (m) => logs.push(m) },
    onEvent: (e) => events.push(e),
  });
  assert.equal(r.steps, 1);
  assert.match(logs.join('\n'), /step-00000004 unusable .*corrupt/);
  assert.deepEqual(
    events.map((e) => [e.type, e.checkpoint, e.type === 'checkpoint.resumed' ? e.step : undefined]),
    [
      ['checkpoint.skipped', 'step-00000004', undefined],
      ['checkpoint.resumed', 'step-00000002', 2],
    ],
  );
  assert.match(events[0].type === 'checkpoint.skipped' ? events[0].reason : '', /corrupt/);
  const ids = (await new LocalCheckpointStore(dir).list()).map((m) => m.id);
  assert.ok(ids.includes('step-00000003'), `resumed from step 2 and wrote step 3: ${ids}`);
});

test('metrics JSONL: one line per step with loss, lr, momentum, images/s', async () => {
  const config = tinyConfig({ workers: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'cim-metrics-'));
  await pretrain({ config, metrics: new JsonlMetricsSink(join(dir, 'm.jsonl')), maxSteps: 3 });
  const lines = (await readFile(join(dir, 'm.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.step),
    [1, 2, 3],
  );
  for (const l of lines) {
    assert.ok(Number.isFinite(l.loss) && l.loss > 0);
    assert.ok(l.images_per_sec > 0);
    assert.ok(l.momentum >= 0.99 && l.momentum <= 1);
  }
  assert.ok(tf.memory().numTensors < 50, `tensors left after runs: ${tf.memory().numTensors}`);
});
