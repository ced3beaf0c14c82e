// Checkpoint rows follow the bytes: PENDING before the first byte, COMPLETE only after the
// manifest; readers see COMPLETE ones only; retention never deletes a pinned checkpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { S3CheckpointStore } from '@cim-forge/storage';
import { startS3TestServer, type S3TestServer } from '@cim-forge/storage/testing';
import { TrackedCheckpointStore, storeIdOf } from './tracked-checkpoint-store.ts';
import { PostgresMetricsSink } from './postgres-metrics-sink.ts';
import { startServiceFixture, type ServiceFixture } from './testing/service-fixture.ts';

let fx: ServiceFixture;
let s3: S3TestServer;
before(async () => {
  s3 = await startS3TestServer();
  fx = await startServiceFixture();
});
after(async () => {
  await fx.close();
  await s3.close();
});

const files = (step: number) => ({
  'model.safetensors': new Uint8Array(randomBytes(3000)),
  'state.json': new TextEncoder().encode(JSON.stringify({ data: { epoch: 2, cursor: 5 }, metrics: { loss: 1 / step } })),
});

test('write: PENDING then COMPLETE with the manifest digest, epoch and metrics; list() = COMPLETE only', async () => {
  const run = await fx.submit({ worldSize: 1 });
  const s3store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: `runs/${run.id}/checkpoints` });
  const completed: number[] = [];
  const store = new TrackedCheckpointStore({ db: fx.db, s3: s3store, runId: run.id, onComplete: (c) => void completed.push(c.step) });
  const m = await store.write('step-00000004', 4, files(4));
  const row = await fx.db.checkpoint.findUniqueOrThrow({ where: { runId_step: { runId: run.id, step: 4 } } });
  assert.equal(row.status, 'COMPLETE');
  assert.equal(
    row.manifestDigest,
    createHash('sha256')
      .update(JSON.stringify(m, null, 2))
      .digest('hex'),
  );
  assert.equal(row.epoch, 2);
  assert.deepEqual(row.metrics, { loss: 0.25 });
  assert.equal(row.uri, `s3://${s3.bucket}/runs/${run.id}/checkpoints/step-00000004`);
  assert.equal(storeIdOf(row.uri), 'step-00000004');
  assert.deepEqual(completed, [4]);

  // a write that dies after its first file (the fault S3 cannot produce on demand) leaves a PENDING row
  const failing = Object.create(s3store) as S3CheckpointStore;
  failing.write = async () => {
    throw new Error('connection reset mid-upload');
  };
  const broken = new TrackedCheckpointStore({ db: fx.db, s3: failing, runId: run.id });
  await assert.rejects(broken.write('step-00000008', 8, files(8)), /connection reset/);
  const pending = await fx.db.checkpoint.findUniqueOrThrow({ where: { runId_step: { runId: run.id, step: 8 } } });
  assert.equal(pending.status, 'PENDING');
  assert.deepEqual(
    (await store.list()).map((x) => x.step),
    [4],
  );
});

test('remove: retention deletes an unpinned checkpoint (row and objects) and keeps those a fine-tune or a sweep pins', async () => {
  const run = await fx.submit({ worldSize: 1 });
  const s3store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: `runs/${run.id}/checkpoints` });
  const store = new TrackedCheckpointStore({ db: fx.db, s3: s3store, runId: run.id });
  for (const step of [1, 2, 3]) await store.write(`step-0000000${step}`, step, files(step));
  const rowAt = (step: number) => fx.db.checkpoint.findUniqueOrThrow({ where: { runId_step: { runId: run.id, step } } });
  await fx.submit({ kind: 'finetune', worldSize: 1, sourceCheckpointId: (await rowAt(1)).id });
  // a sweep that has no trial run yet pins its source through its stored spec
  await fx.db.sweep.create({
    data: { teamId: fx.teamId, name: 'from-step-3', kind: 'finetune', base: {}, spec: { sourceCheckpointId: (await rowAt(3)).id } },
  });
  for (const step of [1, 2, 3]) await store.remove(`step-0000000${step}`);
  assert.deepEqual(
    (await fx.db.checkpoint.findMany({ where: { runId: run.id }, orderBy: { step: 'asc' } })).map((c) => c.step),
    [1, 3],
  );
  assert.deepEqual(
    (await s3store.list()).map((x) => x.id),
    ['step-00000001', 'step-00000003'],
  );
});

test('PostgresMetricsSink: 1200 records × 2 series land in batches of 500; a re-logged step replaces its value', async () => {
  const run = await fx.submit({ worldSize: 1 });
  const sink = new PostgresMetricsSink({ db: fx.db, runId: run.id, rank: null, maxPoints: 500, flushMs: 60_000 });
  for (let step = 1; step <= 1200; step++)
    await sink.write({ step, loss: 1 / step, lr: step * 1e-6, note: 'text is skipped', time: 1_800_000_000 + step });
  // 2400 points (loss, lr; step, time and text are not series): 4 batches of 500 were written on the way, 400 wait for close()
  assert.equal(await fx.db.metric.count({ where: { runId: run.id } }), 2000);
  await sink.close();
  assert.equal(await fx.db.metric.count({ where: { runId: run.id } }), 2400);
  const last = await fx.db.metric.findFirstOrThrow({ where: { runId: run.id, name: 'loss', step: 1200 } });
  assert.equal(last.value, 1 / 1200);
  assert.equal(last.at.getTime(), (1_800_000_000 + 1200) * 1000);
  const again = new PostgresMetricsSink({ db: fx.db, runId: run.id, rank: null });
  await again.write({ step: 1200, loss: 7 });
  await again.close();
  assert.equal((await fx.db.metric.findFirstOrThrow({ where: { runId: run.id, name: 'loss', step: 1200 } })).value, 7);
  assert.equal(await fx.db.metric.count({ where: { runId: run.id } }), 2400);
});

test('PostgresMetricsSink: the same (name, step) twice in one batch keeps the last value', async () => {
  const run = await fx.submit({ worldSize: 1 });
  const sink = new PostgresMetricsSink({ db: fx.db, runId: run.id, rank: null });
  await sink.write({ step: 16, epoch: 1, loss: 0.5 });
  await sink.write({ step: 16, epoch: 1.25, eval_top1: 0.7 });
  await sink.close();
  const rows = await fx.db.metric.findMany({ where: { runId: run.id }, orderBy: { name: 'asc' } });
  assert.deepEqual(
    rows.map((r) => [r.name, r.step, r.value]),
    [
      ['epoch', 16, 1.25],
      ['eval_top1', 16, 0.7],
      ['loss', 16, 0.5],
    ],
  );
});
