import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bullPriority, runJobId, runsQueue } from '@cim-forge/queue';
import { buildApp } from './app.ts';
import { redisUrl, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let teamId: string;
before(async () => {
  env = await startApiTestEnv();
  ({ auth, teamId } = await env.team());
});
after(async () => {
  await env?.close();
});

const jobs = () => env.queue.getJobs(['prioritized', 'waiting', 'active', 'delayed']);

test('POST /v1/runs pretrain smoke ×2 ranks → 201, QUEUED row with the resolved config, a run.queued event, one job', async () => {
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: { kind: 'pretrain', preset: 'smoke', name: 'first', worldSize: 2, priority: 10, config: { epochs: 2 } },
  });
  assert.equal(r.statusCode, 201, r.body);
  const run = r.json();
  assert.equal(run.kind, 'pretrain');
  assert.equal(run.status, 'QUEUED');
  assert.equal(run.teamId, teamId);
  assert.equal(run.worldSize, 2);
  assert.equal(run.priority, 10);
  assert.equal(run.maxRestarts, 3);
  assert.equal(run.preset, 'smoke');
  assert.equal(run.name, 'first');
  assert.equal(run.source, null);
  assert.equal(run.config.batchSize, 32);
  assert.equal(run.config.model, 'cimVitMicroPatch4');
  assert.equal(run.config.epochs, 2);
  assert.equal(run.config.checkpointEvery, 16);
  assert.equal(run.config.initFrom, null);
  assert.ok(Date.parse(run.queuedAt) <= Date.now());

  const row = await env.db.run.findUniqueOrThrow({ where: { id: run.id } });
  assert.equal(row.status, 'QUEUED');
  assert.deepEqual(row.config, run.config);
  const events = await env.db.runEvent.findMany({ where: { runId: run.id } });
  assert.deepEqual(
    events.map((e) => e.type),
    ['run.queued'],
  );
  assert.deepEqual(events[0].data, { kind: 'pretrain', preset: 'smoke', worldSize: 2, priority: 10, sourceCheckpointId: null });

  const all = await jobs();
  assert.equal(all.length, 1);
  assert.equal(all[0].id, runJobId(run.id));
  assert.deepEqual(all[0].data, { runId: run.id });
  assert.equal(all[0].opts.priority, bullPriority(10));

  const got = await env.app.inject({ method: 'GET', url: `/v1/runs/${run.id}`, headers: auth });
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.json(), run);
});

test('Idempotency-Key: the same key twice → the same run (201 then 200), one row, one job; concurrent twins too', async () => {
  const before = await env.db.run.count();
  const jobsBefore = (await jobs()).length;
  const send = (key: string) =>
    env.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: { ...auth, 'idempotency-key': key },
      payload: { kind: 'pretrain', preset: 'smoke' },
    });
  const a = await send('key-1');
  const b = await send('key-1');
  assert.equal(a.statusCode, 201);
  assert.equal(b.statusCode, 200);
  assert.equal(b.json().id, a.json().id);
  assert.equal(await env.db.run.count(), before + 1);
  assert.equal((await jobs()).length, jobsBefore + 1);

  const [c, d] = await Promise.all([send('key-2'), send('key-2')]);
  assert.deepEqual([c.statusCode, d.statusCode].sort(), [200, 201]);
  assert.equal(c.json().id, d.json().id);
  assert.equal(await env.db.run.count(), before + 2);
  assert.equal((await jobs()).length, jobsBefore + 2);

  const tooLong = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: { ...auth, 'idempotency-key': 'k'.repeat(256) },
    payload: { kind: 'pretrain', preset: 'smoke' },
  });
  assert.equal(tooLong.statusCode, 400);
  assert.equal(tooLong.json().message, 'headers/idempotency-key must not have more than 255 characters');
});

test('validateOnly → 200 with the resolved config; nothing written, nothing enqueued', async () => {
  const runs = await env.db.run.count();
  const events = await env.db.runEvent.count();
  const queued = (await jobs()).length;
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: { ...auth, 'idempotency-key': 'validate' },
    payload: { kind: 'pretrain', preset: 'cpu-small', worldSize: 4, validateOnly: true, config: { batchSize: 16 } },
  });
  assert.equal(r.statusCode, 200, r.body);
  const v = r.json();
  assert.equal(v.valid, true);
  assert.equal(v.kind, 'pretrain');
  assert.equal(v.worldSize, 4);
  assert.equal(v.config.batchSize, 16);
  assert.equal(v.config.model, 'cimVitMicroPatch4');
  assert.deepEqual(v.config.dataset, { kind: 'fashion-mnist', split: 'train', limit: 6144 });
  assert.equal('source' in v, false);
  assert.equal(await env.db.run.count(), runs);
  assert.equal(await env.db.runEvent.count(), events);
  assert.equal((await jobs()).length, queued);
});

test('another pretrain preset (official-vit-base) resolves with its own sizes', async () => {
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: { kind: 'pretrain', preset: 'official-vit-base', validateOnly: true },
  });
  assert.equal(r.statusCode, 200);
  assert.equal(r.json().config.batchSize, 64);
  assert.equal(r.json().config.accumIter, 8);
  // an image folder of unknown size: the plan has no step counts until the worker reads it
  assert.deepEqual([r.json().plan.effectiveBatch, r.json().plan.totalSteps], [512, null]);
});

test('a queue that cannot take the job → 503 and the run FAILED "could not enqueue: …"', async () => {
  const dead = runsQueue({ redisUrl, prefix: `${env.prefix}-dead` });
  await dead.close();
  const app = await buildApp({
    db: env.db,
    redis: env.redis,
    runsQueue: dead,
    queuePrefix: env.prefix,
    s3: { client: env.s3.client, bucket: env.s3.bucket },
  });
  try {
    const r = await app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } });
    assert.equal(r.statusCode, 503, r.body);
    const m = /^run ([0-9a-f-]{36}) could not enqueue: /.exec(r.json().message);
    assert.ok(m, r.json().message);
    const row = await env.db.run.findUniqueOrThrow({ where: { id: m[1] } });
    assert.equal(row.status, 'FAILED');
    assert.match(row.error ?? '', /^could not enqueue: /);
    assert.ok(row.finishedAt instanceof Date);
    const types = (await env.db.runEvent.findMany({ where: { runId: m[1] }, orderBy: { id: 'asc' } })).map((e) => e.type);
    assert.deepEqual(types, ['run.queued', 'run.failed']);
  } finally {
    await app.close();
  }
});
