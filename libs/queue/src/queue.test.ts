import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { bullPriority, cancelChannel, enqueueRun, publishCancel, redisConnection, runsQueue } from './index.ts';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

test('bullPriority: higher ours → smaller BullMQ number, 1 the highest; out of range refused', () => {
  assert.equal(bullPriority(100), 1);
  assert.equal(bullPriority(0), 101);
  assert.equal(bullPriority(-100), 201);
  assert.ok(bullPriority(5) < bullPriority(4));
  assert.throws(() => bullPriority(101), /priority must be an integer in \[-100, 100\]/);
  assert.throws(() => bullPriority(1.5), /priority/);
});

test('redisConnection parses credentials, db and TLS from the URL', () => {
  const c = redisConnection('rediss://u%40x:p%3Aw@h.example:6380/3') as Record<string, unknown>;
  assert.deepEqual([c.host, c.port, c.username, c.password, c.db, c.maxRetriesPerRequest], ['h.example', 6380, 'u@x', 'p:w', 3, null]);
  assert.deepEqual(c.tls, {});
  assert.throws(() => redisConnection('http://x'), /redis:\/\//);
});

test('enqueueRun is idempotent per run and orders by priority (real Redis)', async () => {
  const prefix = `cimtest-${randomBytes(4).toString('hex')}`;
  const q = runsQueue({ redisUrl, prefix });
  try {
    await enqueueRun(q, 'a', 0);
    await enqueueRun(q, 'a', 0);
    await enqueueRun(q, 'b', 50);
    await enqueueRun(q, 'c', -5);
    const jobs = await q.getJobs(['prioritized', 'waiting']);
    assert.equal(jobs.length, 3);
    const order = jobs.sort((x, y) => x.priority - y.priority).map((j) => j.data.runId);
    assert.deepEqual(order, ['b', 'a', 'c']);
  } finally {
    await q.obliterate({ force: true });
    await q.close();
  }
});

test('publishCancel reaches a subscriber on the prefixed channel', async () => {
  const prefix = `cimtest-${randomBytes(4).toString('hex')}`;
  const sub = new Redis(redisUrl);
  const pub = new Redis(redisUrl);
  try {
    await sub.subscribe(cancelChannel(prefix));
    const got = new Promise<string>((resolve) => sub.on('message', (_c, m) => resolve(m)));
    await publishCancel(pub, 'run-42', prefix);
    assert.equal(await got, 'run-42');
  } finally {
    sub.disconnect();
    pub.disconnect();
  }
});
