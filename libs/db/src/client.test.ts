import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createDb, type Db } from './client.ts';
import { migrate } from './migrate.ts';
import { readMetricSeries, writeMetrics } from './metrics.ts';
import { Prisma } from './generated/prisma/client.ts';
import { createTempDatabase, type TempDatabase } from './testing/temp-database.ts';

let tmp: TempDatabase;
let db: Db;

before(async () => {
  tmp = await createTempDatabase();
  await migrate(tmp.url);
  db = createDb(tmp.url);
});

after(async () => {
  await db?.$disconnect();
  await tmp?.drop();
});

test('a team, a hashed token, a run, its checkpoint, a fine-tune from it, events and metrics', async () => {
  const team = await db.team.create({ data: { name: 'vision' } });
  const secret = `cim_${randomBytes(24).toString('base64url')}`;
  const tokenHash = createHash('sha256').update(secret).digest('hex');
  await db.apiToken.create({ data: { teamId: team.id, tokenHash, prefix: secret.slice(0, 12), name: 'ci' } });
  const found = await db.apiToken.findUnique({ where: { tokenHash }, include: { team: true } });
  assert.equal(found?.team?.name, 'vision');
  assert.equal(found?.admin, false);
  assert.equal(found?.revokedAt, null);

  const config = { model: 'cimVitTinyPatch16', steps: 50, lr: 1.5e-4 };
  const run = await db.run.create({
    data: { teamId: team.id, kind: 'pretrain', config, worldSize: 2, priority: 5, idempotencyKey: 'k-1', queuedAt: new Date() },
  });
  assert.equal(run.status, 'QUEUED');
  assert.deepEqual(run.config, config);
  assert.equal(run.maxRestarts, 3);

  // the idempotency key is unique per team, not globally
  await assert.rejects(
    db.run.create({ data: { teamId: team.id, kind: 'pretrain', config, worldSize: 1, idempotencyKey: 'k-1' } }),
    (e: unknown) => e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002',
  );
  const other = await db.team.create({ data: { name: 'audio' } });
  await db.run.create({ data: { teamId: other.id, kind: 'eval', config, worldSize: 1, idempotencyKey: 'k-1' } });

  await db.rankAttempt.createMany({
    data: [0, 1].map((rank) => ({
      runId: run.id,
      rank,
      attempt: 0,
      workerId: `w${rank}`,
      status: 'RUNNING' as const,
      startedAt: new Date(),
    })),
  });
  await db.run.update({ where: { id: run.id }, data: { status: 'RUNNING', startedAt: new Date() } });
  await db.runEvent.create({ data: { runId: run.id, type: 'run.status', message: 'RUNNING on 2 ranks', data: { workers: ['w0', 'w1'] } } });

  const ckpt = await db.checkpoint.create({ data: { runId: run.id, uri: `s3://cim/runs/${run.id}/step-50/`, step: 50, epoch: 1 } });
  assert.equal(ckpt.status, 'PENDING');
  await db.checkpoint.update({
    where: { id: ckpt.id },
    data: { status: 'COMPLETE', manifestDigest: 'a'.repeat(64), metrics: { loss: 0.41 }, completedAt: new Date() },
  });
  const latest = await db.checkpoint.findFirst({ where: { runId: run.id, status: 'COMPLETE' }, orderBy: { step: 'desc' } });
  assert.equal(latest?.id, ckpt.id);

  const finetune = await db.run.create({
    data: { teamId: team.id, kind: 'finetune', config, worldSize: 1, sourceCheckpointId: ckpt.id },
    include: { sourceCheckpoint: true },
  });
  assert.equal(finetune.sourceCheckpoint?.step, 50);
  // pinned: a checkpoint a fine-tune names cannot be deleted
  await assert.rejects(db.checkpoint.delete({ where: { id: ckpt.id } }));
  assert.equal(await db.checkpoint.count({ where: { id: ckpt.id, finetunes: { some: {} } } }), 1);

  await db.metric.createMany({
    data: [
      { runId: run.id, name: 'lr', step: 1, value: 1e-5 },
      { runId: run.id, name: 'loss', rank: 1, step: 1, value: 2.5 },
    ],
  });
  await writeMetrics(db, [
    { runId: run.id, name: 'loss', step: 1, value: 2.0 },
    { runId: run.id, name: 'loss', step: 2, value: 1.5 },
  ]);
  // re-logged after a restart: replaced, not duplicated (rank null included)
  await writeMetrics(db, [{ runId: run.id, name: 'loss', step: 2, value: 1.4 }]);
  const loss = await readMetricSeries(db, { runId: run.id, name: 'loss' });
  assert.deepEqual(
    loss.map((p) => [p.step, p.value]),
    [
      [1, 2.0],
      [2, 1.4],
    ],
  );
  const rank1 = await readMetricSeries(db, { runId: run.id, name: 'loss', rank: 1 });
  assert.deepEqual(
    rank1.map((p) => [p.step, p.value]),
    [[1, 2.5]],
  );

  const full = await db.run.findUniqueOrThrow({
    where: { id: run.id },
    include: { rankAttempts: true, checkpoints: true, events: true, _count: { select: { metrics: true } } },
  });
  assert.equal(full.rankAttempts.length, 2);
  assert.equal(full.checkpoints.length, 1);
  assert.equal(full.events[0].type, 'run.status');
  assert.equal(typeof full.events[0].id, 'bigint');
  assert.equal(full._count.metrics, 4);
});
