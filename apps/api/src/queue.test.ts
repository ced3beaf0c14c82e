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

test('GET /v1/queue is paged: at most `limit` entries, `nextAfter` leads on; a team sees only its own, with global positions', async () => {
  // issue 24 (LOW): the route used to read every queued run on each request, and ignored limit
  const other = await env.team();
  const before = (await env.app.inject({ method: 'GET', url: '/v1/queue?limit=500', headers: auth })).json().runs.length as number;
  const mine: string[] = [];
  for (let i = 0; i < 7; i++) {
    const mineRun = await env.db.run.create({
      data: { teamId, kind: 'eval', status: 'QUEUED', config: {}, worldSize: 1, priority: -50, queuedAt: at(100 + 2 * i) },
    });
    mine.push(mineRun.id);
    await env.db.run.create({
      data: { teamId: other.teamId, kind: 'eval', status: 'QUEUED', config: {}, worldSize: 1, priority: -50, queuedAt: at(101 + 2 * i) },
    });
  }
  const pages: { runs: { id: string; position: number; teamId: string }[]; nextAfter: number | null }[] = [];
  let afterPos = 0;
  for (let i = 0; i < 10; i++) {
    const r = await env.app.inject({ method: 'GET', url: `/v1/queue?limit=3&after=${afterPos}`, headers: auth });
    assert.equal(r.statusCode, 200, r.body);
    pages.push(r.json());
    if (r.json().nextAfter === null) break;
    afterPos = r.json().nextAfter;
  }
  const total = before + 7;
  // a last page that happens to be full is followed by an empty one
  assert.deepEqual(
    pages.map((p) => p.runs.length).filter((n) => n > 0),
    [...Array(Math.floor(total / 3)).fill(3), ...(total % 3 ? [total % 3] : [])],
  );
  const all = pages.flatMap((p) => p.runs);
  assert.ok(all.every((e) => e.teamId === teamId));
  assert.deepEqual(
    all.slice(-7).map((e) => e.id),
    mine,
  );
  // interleaved with the other team's runs: my runs sit at every other global position
  const pos = all.slice(-7).map((e) => e.position);
  assert.deepEqual(
    pos.map((p) => p - pos[0]),
    [0, 2, 4, 6, 8, 10, 12],
  );
  const big = await env.app.inject({ method: 'GET', url: '/v1/queue?limit=501', headers: auth });
  assert.equal(big.statusCode, 400);
  assert.match(big.json().message, /limit must be <= 500/);
});
