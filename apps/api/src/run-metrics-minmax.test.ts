// ?buckets=N&reduce=minmax: a 20000-point series holding one spike keeps the spike (and the dip)
// in 4N points, where the default stride drops it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeMetrics, type MetricPoint } from '@cim-forge/db';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let runId: string;
const SPIKE_STEP = 12_345;
const DIP_STEP = 777;
before(async () => {
  env = await startApiTestEnv();
  ({ auth } = await env.team());
  runId = (await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })).json()
    .id;
  const points: MetricPoint[] = [];
  // a slowly falling loss 2 → 1 with one spike of 50 and one dip to -3
  for (let step = 0; step < 20_000; step++)
    points.push({ runId, name: 'loss', step, value: step === SPIKE_STEP ? 50 : step === DIP_STEP ? -3 : 2 - step / 20_000 });
  assert.equal(await writeMetrics(env.db, points), 20_000);
});
after(async () => {
  await env?.close();
});

async function get(query: string) {
  const r = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/metrics?${query}`, headers: auth });
  return { status: r.statusCode, body: r.json() };
}

test('minmax over 100 buckets: ≤ 400 real points, the spike and the dip kept at their steps, ends kept', async () => {
  const { status, body } = await get('name=loss&buckets=100&reduce=minmax');
  assert.equal(status, 200);
  assert.deepEqual([body.total, body.buckets, body.reduce, body.every], [20_000, 100, 'minmax', 1]);
  const pts: { step: number; value: number }[] = body.points;
  // each 200-step bucket keeps first, last, min and max; on a falling line min = last, max = first
  // so 2 per bucket, plus the spike and the dip in their buckets
  assert.equal(pts.length, 202);
  assert.equal(pts.find((p) => p.value === 50)!.step, SPIKE_STEP);
  assert.equal(Math.max(...pts.map((p) => p.value)), 50);
  assert.equal(Math.min(...pts.map((p) => p.value)), -3);
  assert.equal(pts.find((p) => p.value === -3)!.step, DIP_STEP);
  assert.deepEqual([pts[0].step, pts[pts.length - 1].step], [0, 19_999]);
  // points are real rows, in step order
  assert.ok(pts.every((p, i) => i === 0 || p.step > pts[i - 1].step));
  assert.equal(pts.find((p) => p.step === 200)!.value, 2 - 200 / 20_000);
});

test('the default stride (every=4) misses the spike the minmax read keeps', async () => {
  const { body } = await get('name=loss');
  assert.equal(body.every, 4);
  assert.equal(body.points.length, 5000);
  assert.ok(Math.max(...body.points.map((p: { value: number }) => p.value)) < 2.001);
});

test('buckets within a range and rank filter; a series that fits comes back whole', async () => {
  const { body } = await get('name=loss&from=12000&to=12999&buckets=10');
  assert.equal(body.total, 1000);
  assert.equal(body.points.length, 21);
  assert.equal(Math.max(...body.points.map((p: { value: number }) => p.value)), 50);
  const whole = await get('name=loss&from=0&to=39&buckets=10');
  assert.deepEqual([whole.body.total, whole.body.points.length], [40, 40]);
});

test('bad combinations are 400 with a reason', async () => {
  const both = await get('name=loss&buckets=10&every=2');
  assert.deepEqual([both.status, both.body.message], [400, 'querystring: give either every or buckets, not both']);
  const reduceOnly = await get('name=loss&reduce=minmax');
  assert.deepEqual([reduceOnly.status, reduceOnly.body.message], [400, 'querystring/reduce needs buckets']);
  const other = await get('name=loss&buckets=10&reduce=mean');
  assert.equal(other.status, 400);
  assert.match(other.body.message, /querystring\/reduce/);
  const many = await get('name=loss&buckets=25001');
  assert.deepEqual([many.status, many.body.message], [400, 'querystring/buckets must be <= 25000']);
});
