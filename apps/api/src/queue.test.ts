import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateQueue } from './runs/queue-estimate.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

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

const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s));

test('GET /v1/queue: priority then age, 1-based positions, start estimates from history', async () => {
  // history: pretrain runs took 100 s and 200 s (mean 150); a finetune 30 s; any kind: mean 110 s
  for (const [kind, seconds] of [
    ['pretrain', 100],
    ['pretrain', 200],
    ['finetune', 30],
  ] as const) {
    await env.db.run.create({
      data: { teamId, kind, status: 'SUCCEEDED', config: {}, worldSize: 1, startedAt: at(0), finishedAt: at(seconds) },
    });
  }
  // two active runs share the work ahead
  for (const status of ['RUNNING', 'STARTING'] as const) {
    await env.db.run.create({ data: { teamId, kind: 'pretrain', status, config: {}, worldSize: 1, startedAt: at(0) } });
  }
  const submit = async (priority: number, kind: 'pretrain' | 'eval', queuedAt: Date) => {
    const run = await env.db.run.create({ data: { teamId, kind, status: 'QUEUED', config: {}, worldSize: 1, priority, queuedAt } });
    return run.id;
  };
  const low = await submit(-10, 'pretrain', at(1));
  const normal = await submit(0, 'eval', at(2));
  const high = await submit(50, 'pretrain', at(3));
  const normalLater = await submit(0, 'pretrain', at(4));

  const r = await env.app.inject({ method: 'GET', url: '/v1/queue', headers: auth });
  assert.equal(r.statusCode, 200, r.body);
  const runs = r.json().runs;
  assert.deepEqual(
    runs.map((x: { id: string }) => x.id),
    [high, normal, normalLater, low],
  );
  assert.deepEqual(
    runs.map((x: { position: number }) => x.position),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    runs.map((x: { priority: number }) => x.priority),
    [50, 0, 0, -10],
  );
  const t = runs.map((x: { estimatedStartAt: string }) => Date.parse(x.estimatedStartAt));
  // ahead of #2: one pretrain (150 s); of #3: + one eval (no eval history: 110 s); of #4: + pretrain; all / 2 active
  assert.deepEqual([t[1] - t[0], t[2] - t[1], t[3] - t[2]], [75_000, 55_000, 75_000]);
  assert.ok(Math.abs(t[0] - Date.now()) < 5000);
  assert.equal(runs[0].queuedAt, at(3).toISOString());
  assert.equal(runs[1].kind, 'eval');
});

test('estimateQueue without history: 60 s per run ahead, one slot', () => {
  const now = new Date(0);
  const q = [1, 2, 3].map((i) => ({ id: `r${i}`, teamId: 't', kind: 'pretrain', priority: 0, queuedAt: now }));
  const e = estimateQueue(q, { byKind: new Map(), overall: undefined, active: 0 }, now);
  assert.deepEqual(
    e.map((x) => [x.position, x.estimatedStartAt.getTime()]),
    [
      [1, 0],
      [2, 60_000],
      [3, 120_000],
    ],
  );
});
