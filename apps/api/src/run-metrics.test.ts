import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeMetrics, type MetricPoint } from '@cim-forge/db';
import { chooseEvery } from './routes/run-metrics.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let runId: string;
before(async () => {
  env = await startApiTestEnv();
  ({ auth } = await env.team());
  runId = (await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })).json()
    .id;
  const points: MetricPoint[] = [];
  for (let step = 0; step < 10_000; step++) points.push({ runId, name: 'loss', step, value: step / 1000 });
  for (const rank of [0, 1]) for (let step = 0; step < 100; step++) points.push({ runId, name: 'loss', rank, step, value: rank + step });
  for (let step = 10; step < 60; step++) points.push({ runId, name: 'lr', step, value: 1e-3 });
  assert.equal(await writeMetrics(env.db, points), 10_250);
});
after(async () => {
  await env?.close();
});

async function series(query: string) {
  const r = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/metrics?${query}`, headers: auth });
  assert.equal(r.statusCode, 200, r.body);
  const s = r.json();
  const steps = s.points.map((p: { step: number }) => p.step);
  return { ...s, count: s.points.length, first: steps[0], last: steps[steps.length - 1] };
}

test('a 10000-point series without every comes back at most 5000 points (every=2 reported)', async () => {
  const s = await series('name=loss');
  assert.deepEqual([s.runId, s.name, s.rank, s.total, s.every, s.count, s.first, s.last], [runId, 'loss', null, 10_000, 2, 5000, 0, 9998]);
  assert.equal(s.points[1].value, 2 / 1000);
  assert.equal(s.points[4999].value, 9998 / 1000);
  assert.ok(Date.parse(s.points[0].at) <= Date.now());
});

test('from/to/every select exactly the documented points', async () => {
  const range = await series('name=loss&from=100&to=199');
  assert.deepEqual([range.total, range.every, range.count, range.first, range.last], [100, 1, 100, 100, 199]);
  const strided = await series('name=loss&from=1000&to=1999&every=10');
  assert.deepEqual([strided.count, strided.first, strided.last, strided.points[1].step], [100, 1000, 1990, 1010]);
  const thirds = await series('name=loss&every=3');
  assert.deepEqual([thirds.count, thirds.first, thirds.last], [3334, 0, 9999]);
  const rank1 = await series('name=loss&rank=1&from=50');
  assert.deepEqual([rank1.rank, rank1.count, rank1.first, rank1.last, rank1.points[0].value], [1, 50, 50, 99, 51]);
  const none = await series('name=accuracy');
  assert.deepEqual([none.total, none.count], [0, 0]);
});

test('without name: every series with its size and step range, one row each', async () => {
  const r = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/metrics`, headers: auth });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json().series, [
    { name: 'loss', rank: null, points: 10_000, firstStep: 0, lastStep: 9999 },
    { name: 'loss', rank: 0, points: 100, firstStep: 0, lastStep: 99 },
    { name: 'loss', rank: 1, points: 100, firstStep: 0, lastStep: 99 },
    { name: 'lr', rank: null, points: 50, firstStep: 10, lastStep: 59 },
  ]);
});

test('query values are coerced from strings but must still be valid', async () => {
  const bad = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/metrics?name=loss&rank=abc`, headers: auth });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().message, 'querystring/rank must be integer');
  const zero = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/metrics?name=loss&every=0`, headers: auth });
  assert.equal(zero.statusCode, 400);
  assert.equal(zero.json().message, 'querystring/every must be >= 1');
});

test('chooseEvery caps points at 5000 by default and at 100000 whatever every asks', () => {
  assert.equal(chooseEvery(5000, undefined), 1);
  assert.equal(chooseEvery(5001, undefined), 2);
  assert.equal(chooseEvery(1_000_000, undefined), 200);
  assert.equal(chooseEvery(1_000_000, 1), 10);
  assert.equal(chooseEvery(1_000_000, 50), 50);
});
