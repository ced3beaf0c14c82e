// Two submissions racing for a team's last quota slot (issue 24, LOW): the check and the insert
// run in one transaction that locks the team's row first, so concurrent POST /v1/runs against a
// real PostgreSQL admit exactly as many runs as the quota allows. Before, each request counted the
// queued runs and then inserted (read-then-write), and several passed the last slot together.
// Also: a team with no quota of its own gets the API's default (CIM_DEFAULT_MAX_QUEUED_RUNS).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
before(async () => {
  env = await startApiTestEnv({ defaultQuotas: { maxQueuedRuns: 3, maxActiveRanks: 1000 } });
});
after(async () => {
  await env?.close();
});

const submit = (auth: { authorization: string }) =>
  env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } });

test('concurrent submissions never pass the queued-runs quota', async () => {
  for (const quota of [1, 2]) {
    const t = await env.team();
    const set = await env.app.inject({
      method: 'PATCH',
      url: `/v1/teams/${t.teamId}`,
      headers: bearer(env.adminToken),
      payload: { maxQueuedRuns: quota },
    });
    assert.equal(set.statusCode, 200, set.body);
    const codes = (await Promise.all(Array.from({ length: 10 }, () => submit(t.auth)))).map((r) => r.statusCode);
    assert.deepEqual(codes.filter((c) => c === 201).length, quota, `quota ${quota}: ${JSON.stringify(codes)}`);
    assert.deepEqual(
      codes.filter((c) => c !== 201 && c !== 429),
      [],
    );
    assert.equal(await env.db.run.count({ where: { teamId: t.teamId, status: 'QUEUED' } }), quota);
  }
});

test('concurrent submissions never pass the active-ranks quota', async () => {
  const t = await env.team();
  await env.app.inject({ method: 'PATCH', url: `/v1/teams/${t.teamId}`, headers: bearer(env.adminToken), payload: { maxActiveRanks: 1 } });
  const codes = (await Promise.all(Array.from({ length: 10 }, () => submit(t.auth)))).map((r) => r.statusCode);
  assert.equal(codes.filter((c) => c === 201).length, 1, JSON.stringify(codes));
});

test("a team without a quota of its own gets the API's default", async () => {
  const t = await env.team();
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await submit(t.auth)).statusCode);
  assert.deepEqual(codes, [201, 201, 201, 429, 429]);
  const r = await submit(t.auth);
  assert.equal(r.json().message, "this team has 3 queued runs, its quota is 3 (the API's default): retry when one has started");
});
