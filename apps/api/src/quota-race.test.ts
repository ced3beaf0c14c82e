// Two submissions racing for a team's last quota slot (issue 24, LOW): the check and the insert
// run in one transaction that locks the team's row first, so concurrent POST /v1/runs against a
// real PostgreSQL admit exactly as many runs as the quota allows. Before, each request counted the
// queued runs and then inserted (read-then-write), and several passed the last slot together.
// Also: a team with no quota of its own gets the API's default (CIM_DEFAULT_MAX_QUEUED_RUNS).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gatedTeams, withTeamGate } from './runs/team-quota.ts';
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

test("a team's concurrent submissions wait for each other in memory, not on its row lock holding connections", async () => {
  const t = await env.team();
  await env.app.inject({ method: 'PATCH', url: `/v1/teams/${t.teamId}`, headers: bearer(env.adminToken), payload: { maxQueuedRuns: 100 } });
  // backends of this database waiting for a lock (the team's row), sampled while 12 submissions race
  let maxWaiting = 0;
  let samples = 0;
  let racing = true;
  const sampler = (async () => {
    while (racing) {
      const [row] = await env.db.$queryRaw<{ n: bigint }[]>`
        SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      maxWaiting = Math.max(maxWaiting, Number(row!.n));
      samples++;
    }
  })();
  const codes = (await Promise.all(Array.from({ length: 12 }, () => submit(t.auth)))).map((r) => r.statusCode);
  racing = false;
  await sampler;
  assert.deepEqual(codes, Array(12).fill(201));
  assert.ok(samples >= 5, `only ${samples} samples`);
  assert.equal(maxWaiting, 0, `up to ${maxWaiting} transactions waited on the team's row lock, each holding a pooled connection`);
  assert.equal(gatedTeams(), 0, 'the gate forgets a team once its submissions are done');
});

test('withTeamGate: one at a time per team, teams side by side, a failure releases the gate', async () => {
  let running = 0;
  let most = 0;
  const task = (ms: number) => async () => {
    running++;
    most = Math.max(most, running);
    await new Promise((r) => setTimeout(r, ms));
    running--;
    return ms;
  };
  const one = await Promise.all(Array.from({ length: 8 }, (_, i) => withTeamGate('team-x', task(i % 3))));
  assert.deepEqual([most, one.length], [1, 8]);
  most = 0;
  await Promise.all([withTeamGate('team-x', task(30)), withTeamGate('team-y', task(30))]);
  assert.equal(most, 2, 'two teams do not wait for each other');
  await assert.rejects(
    withTeamGate('team-x', async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await withTeamGate('team-x', async () => 'after'), 'after');
  assert.equal(gatedTeams(), 0);
});
