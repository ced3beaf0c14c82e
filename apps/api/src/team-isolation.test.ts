import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeMetrics } from '@cim-forge/db';
import { runJobId } from '@cim-forge/queue';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let a: Awaited<ReturnType<ApiTestEnv['team']>>;
let b: Awaited<ReturnType<ApiTestEnv['team']>>;
let runA: string;
let runB: string;
let checkpointA: string;
before(async () => {
  env = await startApiTestEnv();
  a = await env.team('alpha');
  b = await env.team('beta');
  runA = (await env.app.inject({ method: 'POST', url: '/v1/runs', headers: a.auth, payload: { kind: 'pretrain', preset: 'smoke' } })).json()
    .id;
  runB = (await env.app.inject({ method: 'POST', url: '/v1/runs', headers: b.auth, payload: { kind: 'pretrain', preset: 'smoke' } })).json()
    .id;
  await writeMetrics(env.db, [{ runId: runA, name: 'loss', step: 1, value: 0.9 }]);
  checkpointA = (
    await env.db.checkpoint.create({
      data: { runId: runA, uri: `s3://${env.s3.bucket}/runs/${runA}/checkpoints/step-1`, step: 1, status: 'COMPLETE' },
    })
  ).id;
});
after(async () => {
  await env?.close();
});

test("team B gets 404 for every route on team A's run, and A's run stays QUEUED", async () => {
  const routes: [string, string][] = [
    ['GET', `/v1/runs/${runA}`],
    ['POST', `/v1/runs/${runA}/cancel`],
    ['GET', `/v1/runs/${runA}/metrics`],
    ['GET', `/v1/runs/${runA}/metrics?name=loss`],
    ['GET', `/v1/runs/${runA}/events`],
    ['GET', `/v1/runs/${runA}/checkpoints`],
    ['GET', `/v1/runs/${runA}/checkpoints/${checkpointA}/download`],
  ];
  for (const [method, url] of routes) {
    const r = await env.app.inject({ method: method as 'GET', url, headers: b.auth });
    assert.equal(r.statusCode, 404, `${method} ${url}: ${r.body}`);
    assert.equal(r.json().message, `run ${runA} not found`);
  }
  const row = await env.db.run.findUniqueOrThrow({ where: { id: runA } });
  assert.equal(row.status, 'QUEUED');
  assert.ok(await env.queue.getJob(runJobId(runA)));
  // and team A itself sees it
  const own = await env.app.inject({ method: 'GET', url: `/v1/runs/${runA}/events`, headers: a.auth });
  assert.equal(own.statusCode, 200);
});

test("listings: each team lists only its runs; the queue view hides other teams' ids; admin sees all", async () => {
  const listB = (await env.app.inject({ method: 'GET', url: '/v1/runs', headers: b.auth })).json();
  assert.deepEqual(
    listB.runs.map((r: { id: string }) => r.id),
    [runB],
  );
  const queueB = (await env.app.inject({ method: 'GET', url: '/v1/queue', headers: b.auth })).json();
  assert.deepEqual(
    queueB.runs.map((r: { id: string }) => r.id),
    [runB],
  );
  assert.equal(queueB.runs[0].position, 2);
  const admin = { authorization: `Bearer ${env.adminToken}` };
  const all = (await env.app.inject({ method: 'GET', url: '/v1/runs', headers: admin })).json();
  assert.deepEqual(all.runs.map((r: { id: string }) => r.id).sort(), [runA, runB].sort());
  const queueAll = (await env.app.inject({ method: 'GET', url: '/v1/queue', headers: admin })).json();
  assert.deepEqual(
    queueAll.runs.map((r: { id: string }) => r.id),
    [runA, runB],
  );
  const one = await env.app.inject({ method: 'GET', url: `/v1/runs/${runA}`, headers: admin });
  assert.equal(one.statusCode, 200);
});

test('GET /v1/runs pages newest first through an opaque cursor (ties broken by id), with filters', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await env.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: a.auth,
      payload: { kind: 'pretrain', preset: 'smoke', name: `p${i}` },
    });
    ids.push(r.json().id);
  }
  // two runs share a created_at, so the (created_at, id) cursor must break the tie across pages
  const base = Date.now() + 3_600_000;
  const offsets = [0, 1000, 1000, 2000, 3000];
  for (const [i, id] of ids.entries()) await env.db.run.update({ where: { id }, data: { createdAt: new Date(base + offsets[i]) } });
  const tied = [ids[1], ids[2]].sort().reverse();
  const newestFirst = [ids[4], ids[3], ...tied, ids[0], runA];
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url = `/v1/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
    const page: { runs: { id: string }[]; nextCursor: string | null } = (
      await env.app.inject({ method: 'GET', url, headers: a.auth })
    ).json();
    seen.push(...page.runs.map((r) => r.id));
    if (page.nextCursor) assert.match(page.nextCursor, /^[A-Za-z0-9_-]+$/);
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  assert.deepEqual(seen, newestFirst);
  assert.equal(pages, 3);

  const cancelled = await env.app.inject({ method: 'POST', url: `/v1/runs/${ids[0]}/cancel`, headers: a.auth });
  assert.equal(cancelled.statusCode, 202);
  const onlyCancelled = (await env.app.inject({ method: 'GET', url: '/v1/runs?status=CANCELLED&kind=pretrain', headers: a.auth })).json();
  assert.deepEqual(
    onlyCancelled.runs.map((r: { id: string }) => r.id),
    [ids[0]],
  );
  const noEval = (await env.app.inject({ method: 'GET', url: '/v1/runs?kind=eval', headers: a.auth })).json();
  assert.deepEqual(noEval, { runs: [], nextCursor: null });
});
