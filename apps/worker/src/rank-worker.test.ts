// A rank step that holds the CPU longer than BullMQ's lock must not make the job stall: the
// worker runs ranks in a child process, so its own event loop keeps renewing the lock. The
// control case shows the failure this design avoids: the same busy step on the worker's own
// event loop loses the lock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fakeRunner } from './testing/cluster-fixture.ts';
import { QueueEvents, Worker } from 'bullmq';
import { RANKS_QUEUE, rankJobId, redisConnection } from '@cim-forge/queue';
import { Controller } from './controller.ts';
import { RankWorker } from './rank-worker.ts';
import { startServiceFixture, redisUrl, type ServiceFixture } from './testing/service-fixture.ts';

const LOCK_MS = 1000;
const BUSY_MS = 4000;
let fx: ServiceFixture;

before(async () => {
  fx = await startServiceFixture({ CIM_HEARTBEAT_MS: '200', CIM_HEARTBEAT_TIMEOUT_MS: '10000' });
});
after(async () => fx.close());

test(`a ${BUSY_MS} ms CPU-bound step with a ${LOCK_MS} ms lock: no stall, one attempt, SUCCEEDED`, async () => {
  const controller = new Controller({ env: fx.env, db: fx.db, redis: fx.redis, ranksQueue: fx.ranks, pollMs: 100 });
  const worker = new RankWorker({ env: fx.env, db: fx.db, runnerPath: fakeRunner, lockDuration: LOCK_MS, stalledInterval: 300 });
  const events = new QueueEvents(RANKS_QUEUE, { connection: redisConnection(redisUrl), prefix: fx.env.queuePrefix });
  const stalled: string[] = [];
  events.on('stalled', ({ jobId }) => stalled.push(jobId));
  await events.waitUntilReady();
  await controller.start();
  await worker.start();
  try {
    const run = await fx.submit({ worldSize: 1, config: { fake: { busyMs: BUSY_MS } } });
    const done = await fx.waitFor(run.id, (r) => r.status === 'SUCCEEDED' || r.status === 'FAILED', 30_000);
    assert.equal(done.status, 'SUCCEEDED');
    assert.deepEqual(stalled, []);
    const rows = await fx.db.rankAttempt.findMany({ where: { runId: run.id } });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].status, 'SUCCEEDED');
    const held = rows[0].endedAt!.getTime() - rows[0].startedAt!.getTime();
    assert.ok(held >= BUSY_MS, `the rank held the job for ${held} ms, longer than the ${LOCK_MS} ms lock`);
  } finally {
    await worker.close(1000);
    await controller.close();
    await events.close();
  }
});

test("control: the same busy step on the worker's own event loop loses its lock", async () => {
  const q = fx.ranks;
  const errors: string[] = [];
  const w = new Worker(
    RANKS_QUEUE,
    async () => {
      const t0 = Date.now();
      while (Date.now() - t0 < BUSY_MS) {
        // blocks lock renewal
      }
    },
    { connection: redisConnection(redisUrl), prefix: fx.env.queuePrefix, lockDuration: LOCK_MS, stalledInterval: 300 },
  );
  w.on('error', (e) => errors.push(e.message));
  w.on('failed', (_j, e) => errors.push(e.message));
  const data = { runId: 'control', attempt: 0, rank: 0, worldSize: 1 };
  await q.add('rank', data, { jobId: rankJobId(data) });
  const deadline = Date.now() + 15_000;
  while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await w.close(true);
  assert.ok(
    errors.some((m) => /lock/i.test(m)),
    `expected a lost-lock error, got ${JSON.stringify(errors)}`,
  );
});
