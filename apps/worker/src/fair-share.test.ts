// Gang admission alternates between teams at equal priority (issue 13 item 4), with the real
// controller, PostgreSQL and Redis: the order in which workers would take the rank jobs is the
// order of BullMQ's prioritized set.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { enqueueRun, rankJobPriority } from '@cim-forge/queue';
import { Controller } from './controller.ts';
import { startServiceFixture, type ServiceFixture } from './testing/service-fixture.ts';

let fx: ServiceFixture;
let controller: Controller;
before(async () => {
  fx = await startServiceFixture({ CIM_RENDEZVOUS_TIMEOUT_MS: '600000' });
});
after(async () => {
  await controller?.close();
  await fx.close();
});

test("two teams submitting ten runs each (A's ten first) are admitted interleaved, not A's ten first", async () => {
  const teamB = await fx.db.team.create({ data: { name: `b-${fx.env.queuePrefix}` } });
  const team: Record<string, string> = {};
  for (let i = 0; i < 10; i++) team[(await fx.submit({ worldSize: 1 })).id] = 'A';
  for (let i = 0; i < 10; i++) {
    const run = await fx.db.run.create({ data: { teamId: teamB.id, kind: 'pretrain', config: {}, worldSize: 1, queuedAt: new Date() } });
    await enqueueRun(fx.runs, run.id, 0);
    team[run.id] = 'B';
  }
  controller = new Controller({ env: fx.env, db: fx.db, redis: fx.redis, ranksQueue: fx.ranks, pollMs: 200 });
  await controller.start();
  const deadline = Date.now() + 30_000;
  while ((await fx.ranks.getPrioritizedCount()) < 20) {
    assert.ok(Date.now() < deadline, 'the controller did not queue 20 rank jobs within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const order = (await fx.ranks.getPrioritized(0, -1)).map((j) => team[j.data.runId]);
  assert.equal(order.length, 20);
  // after every pair of admissions each team has had the same number
  for (let k = 1; k <= 10; k++) {
    const head = order.slice(0, 2 * k);
    assert.equal(head.filter((t) => t === 'A').length, k, `admission order ${order.join('')}`);
  }
});

test('priority still comes first; usage orders within a priority and is capped', () => {
  assert.ok(rankJobPriority(1, 9999) < rankJobPriority(0, 0), 'a higher priority beats any usage');
  assert.ok(rankJobPriority(0, 0) < rankJobPriority(0, 1));
  assert.equal(rankJobPriority(0, 1e9), rankJobPriority(0, 9999));
  assert.ok(rankJobPriority(-100, 1e9) <= 2 ** 21, "inside BullMQ's priority range");
  assert.equal(rankJobPriority(100, 0), 1);
});
