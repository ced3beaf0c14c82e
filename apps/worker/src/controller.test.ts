// The controller and workers against real PostgreSQL and Redis, with a stand-in rank process
// (testing/fake-rank-runner.ts) that joins the gang over the real collective but does not train.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { publishCancel } from '@cim-forge/queue';
import type { RankWorker } from './rank-worker.ts';
import { startClusterFixture, type ClusterFixture } from './testing/cluster-fixture.ts';
import type { ServiceFixture } from './testing/service-fixture.ts';

let cluster: ClusterFixture;
let fx: ServiceFixture;
let workers: RankWorker[];

before(async () => {
  cluster = await startClusterFixture({
    env: { CIM_RENDEZVOUS_TIMEOUT_MS: '2500', CIM_HEARTBEAT_MS: '300', CIM_HEARTBEAT_TIMEOUT_MS: '5000' },
    workers: 2,
    controller: { pollMs: 150, backoffBaseMs: 300, backoffMaxMs: 1500 },
  });
  ({ fx, workers } = cluster);
});

after(() => cluster?.close());

const events = async (runId: string) => (await fx.db.runEvent.findMany({ where: { runId }, orderBy: { id: 'asc' } })).map((e) => e.type);
const attempts = (runId: string) => fx.db.rankAttempt.findMany({ where: { runId }, orderBy: [{ attempt: 'asc' }, { rank: 'asc' }] });

test('a gang of 2 ranks runs on 2 workers and the run SUCCEEDS', async () => {
  const run = await fx.submit({ worldSize: 2, config: { fake: { sleepMs: 200 } } });
  const done = await fx.waitFor(run.id, (r) => r.status === 'SUCCEEDED', 30_000);
  assert.ok(done.startedAt && done.finishedAt && done.finishedAt >= done.startedAt);
  const rows = await attempts(run.id);
  assert.deepEqual(
    rows.map((r) => [r.attempt, r.rank, r.status]),
    [
      [0, 0, 'SUCCEEDED'],
      [0, 1, 'SUCCEEDED'],
    ],
  );
  assert.deepEqual(new Set(rows.map((r) => r.workerId)), new Set(['w0', 'w1']));
  assert.deepEqual(await events(run.id), ['run.attempt', 'run.running', 'run.succeeded']);
});

test('an error in the run itself FAILS it at once, with the reason, without a restart', async () => {
  const run = await fx.submit({ worldSize: 2, config: { fake: { exit: { 0: 'user' }, failRank: 1 } } });
  const done = await fx.waitFor(run.id, (r) => r.status === 'FAILED', 30_000);
  assert.match(done.error!, /^rank 1: fake user failure on attempt 0$/);
  assert.equal(done.failureCategory, 'user');
  assert.equal(done.infraRestarts, 0);
  assert.equal(new Set((await attempts(run.id)).map((r) => r.attempt)).size, 1);
});

test('an infrastructure failure restarts the whole gang (a new attempt), which then SUCCEEDS', async () => {
  const run = await fx.submit({ worldSize: 2, config: { fake: { exit: { 0: 'infra' }, failRank: 0 } } });
  const done = await fx.waitFor(run.id, (r) => r.status === 'SUCCEEDED', 40_000);
  assert.equal(done.infraRestarts, 1);
  const rows = await attempts(run.id);
  // rank 1 of attempt 0 either finished or was stopped with its gang
  const gangOf0 = rows[1].status === 'CANCELLED' ? 'CANCELLED' : 'SUCCEEDED';
  assert.deepEqual(
    rows.map((r) => [r.attempt, r.rank, r.status]),
    [
      [0, 0, 'FAILED'],
      [0, 1, gangOf0],
      [1, 0, 'SUCCEEDED'],
      [1, 1, 'SUCCEEDED'],
    ],
  );
  assert.equal(rows[0].failureCategory, 'infra');
  assert.match(rows[0].exitReason!, /^fake infra failure on attempt 0/);
  const ev = await events(run.id);
  assert.deepEqual(
    ev.filter((t) => t === 'run.restart' || t === 'rank.failed'),
    ['rank.failed', 'run.restart'],
  );
});

test('the restart budget is spent: FAILED after maxRestarts + 1 attempts', async () => {
  const run = await fx.submit({ worldSize: 1, maxRestarts: 1, config: { fake: { exit: { 0: 'infra', 1: 'infra' } } } });
  const done = await fx.waitFor(run.id, (r) => r.status === 'FAILED', 40_000);
  assert.equal(done.infraRestarts, 2);
  assert.match(done.error!, /^gave up after 1 restart\(s\); last: rank 0: fake infra failure on attempt 1/);
  assert.equal(done.failureCategory, 'infra');
  assert.equal((await attempts(run.id)).length, 2);
});

test('cancelling a running run stops every rank within seconds', async () => {
  const run = await fx.submit({ worldSize: 2, config: { fake: { sleepMs: 60_000 } } });
  await fx.waitFor(run.id, (r) => r.status === 'RUNNING', 30_000);
  const t0 = Date.now();
  await fx.db.run.update({ where: { id: run.id }, data: { status: 'CANCELLED', finishedAt: new Date() } });
  await publishCancel(fx.redis, run.id, fx.env.queuePrefix);
  for (;;) {
    const rows = await attempts(run.id);
    if (rows.every((r) => r.status === 'CANCELLED')) break;
    assert.ok(Date.now() - t0 < 5000, `ranks still ${rows.map((r) => r.status).join(',')} after 5 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < 5, `stopped in ${seconds} s`);
  assert.equal(
    workers.reduce((a, w) => a + w.busy, 0),
    0,
  );
});

test('a gang that cannot assemble (3 ranks, 2 workers) releases its workers: a 2-rank run behind it still SUCCEEDS', async () => {
  const big = await fx.submit({ worldSize: 3, config: { fake: {} } });
  await new Promise((r) => setTimeout(r, 300));
  const small = await fx.submit({ worldSize: 2, config: { fake: { sleepMs: 100 } } });
  const done = await fx.waitFor(small.id, (r) => r.status === 'SUCCEEDED', 60_000);
  assert.equal(done.status, 'SUCCEEDED');
  const bigEvents = await fx.db.runEvent.findMany({ where: { runId: big.id, type: 'run.restart' } });
  assert.ok(bigEvents.length >= 1, 'the big run was released and requeued at least once');
  assert.equal((bigEvents[0].data as { cause: string }).cause, 'rendezvous');
  const bigRun = await fx.db.run.findUniqueOrThrow({ where: { id: big.id } });
  assert.equal(bigRun.infraRestarts, 0, 'waiting for capacity spends no restart budget');
  await fx.db.run.update({ where: { id: big.id }, data: { status: 'CANCELLED' } });
  await publishCancel(fx.redis, big.id, fx.env.queuePrefix);
});
