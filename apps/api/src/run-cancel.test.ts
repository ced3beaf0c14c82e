import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { cancelChannel, runJobId } from '@cim-forge/queue';
import { redisUrl, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let prefix: string;
before(async () => {
  env = await startApiTestEnv();
  ({ auth } = await env.team());
  prefix = auth.authorization.slice('Bearer '.length, 'Bearer '.length + 12);
});
after(async () => {
  await env?.close();
});

test('cancel a QUEUED run → 202 CANCELLED, job removed, the id published; again → 409', async () => {
  const run = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json();
  assert.ok(await env.queue.getJob(runJobId(run.id)));

  const sub = new Redis(redisUrl);
  try {
    await sub.subscribe(cancelChannel(env.prefix));
    const heard = new Promise<string>((resolve) => sub.on('message', (_channel, message) => resolve(message)));

    const r = await env.app.inject({ method: 'POST', url: `/v1/runs/${run.id}/cancel`, headers: auth });
    assert.equal(r.statusCode, 202, r.body);
    const c = r.json();
    assert.equal(c.status, 'CANCELLED');
    assert.equal(c.error, `cancelled by ${prefix}`);
    assert.ok(c.finishedAt !== null && Date.parse(c.finishedAt) <= Date.now());
    assert.equal(await heard, run.id);
  } finally {
    sub.disconnect();
  }
  assert.equal(await env.queue.getJob(runJobId(run.id)), undefined);
  const events = await env.db.runEvent.findMany({ where: { runId: run.id }, orderBy: { id: 'asc' } });
  assert.deepEqual(
    events.map((e) => e.type),
    ['run.queued', 'run.cancelled'],
  );

  const again = await env.app.inject({ method: 'POST', url: `/v1/runs/${run.id}/cancel`, headers: auth });
  assert.equal(again.statusCode, 409);
  assert.equal(
    again.json().message,
    `run ${run.id} is already CANCELLED; only QUEUED, STARTING, RUNNING or RESTARTING runs can be cancelled`,
  );
  assert.equal(await env.db.runEvent.count({ where: { runId: run.id } }), 2);
});

test('a RUNNING run cancels; a SUCCEEDED one → 409 naming its status', async () => {
  const running = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json();
  await env.db.run.update({ where: { id: running.id }, data: { status: 'RUNNING', startedAt: new Date() } });
  const r = await env.app.inject({ method: 'POST', url: `/v1/runs/${running.id}/cancel`, headers: auth });
  assert.equal(r.statusCode, 202);
  assert.equal(r.json().status, 'CANCELLED');

  const done = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json();
  await env.db.run.update({ where: { id: done.id }, data: { status: 'SUCCEEDED', startedAt: new Date(), finishedAt: new Date() } });
  const late = await env.app.inject({ method: 'POST', url: `/v1/runs/${done.id}/cancel`, headers: auth });
  assert.equal(late.statusCode, 409);
  assert.match(late.json().message, /is already SUCCEEDED/);
  assert.equal((await env.db.run.findUniqueOrThrow({ where: { id: done.id } })).status, 'SUCCEEDED');
});

test('GET events: oldest first, ids as strings', async () => {
  const run = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json();
  await env.app.inject({ method: 'POST', url: `/v1/runs/${run.id}/cancel`, headers: auth });
  const r = await env.app.inject({ method: 'GET', url: `/v1/runs/${run.id}/events`, headers: auth });
  assert.equal(r.statusCode, 200);
  const events = r.json().events;
  assert.deepEqual(
    events.map((e: { type: string }) => e.type),
    ['run.queued', 'run.cancelled'],
  );
  assert.equal(typeof events[0].id, 'string');
  assert.ok(BigInt(events[1].id) > BigInt(events[0].id));
  assert.deepEqual(events[0].data, { kind: 'pretrain', preset: 'smoke', worldSize: 1, priority: 0, sourceCheckpointId: null });
  assert.equal(events[1].message, `cancelled by ${prefix}`);
  assert.equal(events[1].data, null);
});
