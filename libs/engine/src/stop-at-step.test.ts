import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveFinetuneConfig } from '@cim-forge/config';
import { initTestBackend } from '@cim-forge/cim/testing';
import { LocalCheckpointStore } from './checkpoint-store.ts';
import { finetune } from './finetune/finetune.ts';
import { loadLabelledImages } from './finetune/labelled-data.ts';
import { JsonlMetricsSink } from './metrics-sink.ts';
import { pretrain } from './pretrain.ts';
import { tinyConfig } from './testing.ts';

await initTestBackend();

const rows = async (path: string) =>
  (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);

test('stopAtStep (fine-tuning): stop at 3 with a checkpoint and val_top1 there, resume to 6 = straight to 6 (same weights digest, same lr)', async () => {
  const data = {
    train: await loadLabelledImages({ kind: 'fashion-mnist', split: 'train', limit: 160 }, 32),
    eval: await loadLabelledImages({ kind: 'fashion-mnist', split: 'test', limit: 32 }, 32),
  };
  const base = resolveFinetuneConfig({
    model: 'cimVitMicroPatch4',
    modelOverrides: { embedDim: 32, depth: 1, numHeads: 2 },
    epochs: 1,
    batchSize: 8,
    valFraction: 0.2,
    baseLr: 0.05,
  });
  const dirA = await mkdtemp(join(tmpdir(), 'ft-stop-straight-'));
  const dirB = await mkdtemp(join(tmpdir(), 'ft-stop-split-'));
  const a = await finetune({ config: base, data, store: new LocalCheckpointStore(dirA), maxSteps: 6, scoreTest: false });
  assert.equal(a.totalSteps, 16, '128 training images after the 0.2 validation split, batch 8');
  const b1 = await finetune({
    config: { ...base, stopAtStep: 3 },
    data,
    store: new LocalCheckpointStore(dirB),
    metrics: new JsonlMetricsSink(join(dirB, 'm1.jsonl')),
    scoreTest: false,
  });
  assert.equal(b1.steps, 3);
  assert.equal(b1.finalStep, 3);
  assert.equal(b1.totalSteps, 16, 'the schedule is the whole run');
  assert.deepEqual(
    (await new LocalCheckpointStore(dirB).list()).map((m) => m.id),
    ['step-00000003'],
  );
  const r1 = await rows(join(dirB, 'm1.jsonl'));
  const at3 = r1.find((r) => r.step === 3 && r.val_top1 !== undefined)!;
  assert.ok(at3, 'an evaluation at the stop step');
  assert.equal(at3.val_top1, b1.evals.at(-1)!.top1);
  assert.equal(at3.eval_top1, at3.val_top1);
  assert.ok(Number.isFinite(at3.val_loss));
  // the lr at step 3 is the whole run's (warm-up over 16 steps × 0.05 epochs), not a 3-step run's
  const lrA = (await rows(join(dirB, 'm1.jsonl'))).filter((r) => r.lr !== undefined).map((r) => r.lr);
  assert.equal(lrA.length, 3);
  // resume with a larger stopAtStep: goes on from the checkpoint, bit-identical to the straight run
  const b2 = await finetune({
    config: { ...base, stopAtStep: 6 },
    data,
    store: new LocalCheckpointStore(dirB),
    resume: true,
    scoreTest: false,
  });
  assert.equal(b2.steps, 3);
  assert.equal(b2.finalStep, 6);
  assert.equal(b2.weightsDigest, a.weightsDigest);
  // resumed at its stopAtStep: nothing to do, no new checkpoint
  const b3 = await finetune({
    config: { ...base, stopAtStep: 6 },
    data,
    store: new LocalCheckpointStore(dirB),
    resume: true,
    scoreTest: false,
  });
  assert.equal(b3.steps, 0);
  assert.equal(b3.lastCheckpoint, 'step-00000006');
  assert.equal(b3.weightsDigest, a.weightsDigest);
  // and null runs to the end
  const b4 = await finetune({ config: base, data, store: new LocalCheckpointStore(dirB), resume: true, scoreTest: false });
  assert.equal(b4.finalStep, 16);
});

test('stopAtStep (pre-training): stop at 3, resume with stopAtStep null for 3 more = straight 6 steps', async () => {
  const config = tinyConfig({ checkpointEvery: 0, workers: 1 });
  const dirA = await mkdtemp(join(tmpdir(), 'pt-stop-straight-'));
  const dirB = await mkdtemp(join(tmpdir(), 'pt-stop-split-'));
  const a = await pretrain({ config, store: new LocalCheckpointStore(dirA), maxSteps: 6 });
  const b1 = await pretrain({ config: { ...config, stopAtStep: 3 }, store: new LocalCheckpointStore(dirB) });
  assert.equal(b1.steps, 3);
  assert.ok(b1.totalSteps > 6);
  const b2 = await pretrain({ config, store: new LocalCheckpointStore(dirB), resume: true, maxSteps: 3 });
  assert.equal(b2.steps, 3);
  assert.equal(b2.weightsDigest, a.weightsDigest);
  assert.deepEqual(
    (await new LocalCheckpointStore(dirB).list()).map((m) => m.id),
    ['step-00000003', 'step-00000006'],
  );
});
