/**
 * Quotas and limits between teams (issue 13 item 4): per-team quotas set by an admin (429 with
 * Retry-After, 403 above the priority cap), per-token rate limits shared by API replicas through
 * Redis, and worldSize checked against the workers registered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerWorker } from '@cim-forge/queue';
import { buildApp } from './app.ts';
import { bearer, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
before(async () => {
  env = await startApiTestEnv();
});
after(async () => {
  await env?.close();
});

const submit = (auth: { authorization: string }, extra: object = {}) =>
  env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke', ...extra } });

test("an admin sets a team's quotas; over them a submission is a 429 with Retry-After, another team is untouched", async () => {
  const a = await env.team();
  const b = await env.team();
  const byTeam = await env.app.inject({ method: 'PATCH', url: `/v1/teams/${a.teamId}`, headers: a.auth, payload: { maxQueuedRuns: 100 } });
  assert.equal(byTeam.statusCode, 403);
  const set = await env.app.inject({
    method: 'PATCH',
    url: `/v1/teams/${a.teamId}`,
    headers: bearer(env.adminToken),
    payload: { maxQueuedRuns: 2, maxPriority: 10 },
  });
  assert.equal(set.statusCode, 200, set.body);
  assert.deepEqual([set.json().maxQueuedRuns, set.json().maxPriority, set.json().maxActiveRanks], [2, 10, null]);

  const high = await submit(a.auth, { priority: 11 });
  assert.equal(high.statusCode, 403);
  assert.equal(
    high.json().message,
    "body/priority 11 is above this team's highest priority 10 (an admin sets it with PATCH /v1/teams/:id)",
  );
  assert.equal((await submit(a.auth, { priority: 10 })).statusCode, 201);
  assert.equal((await submit(a.auth)).statusCode, 201);
  const third = await submit(a.auth);
  assert.equal(third.statusCode, 429);
  assert.equal(third.headers['retry-after'], '60');
  assert.equal(third.json().message, 'this team has 2 queued runs, its quota is 2: retry when one has started');
  assert.equal(await env.db.run.count({ where: { teamId: a.teamId } }), 2);
  // team B has no quota: its high-priority runs go in
  for (let i = 0; i < 3; i++) assert.equal((await submit(b.auth, { priority: 100 })).statusCode, 201);

  // ranks: 2 active (two 1-rank runs) + 2 more would pass a quota of 3
  await env.app.inject({
    method: 'PATCH',
    url: `/v1/teams/${a.teamId}`,
    headers: bearer(env.adminToken),
    payload: { maxQueuedRuns: null, maxActiveRanks: 3 },
  });
  assert.equal((await submit(a.auth, { worldSize: 1 })).statusCode, 201);
  const ranks = await submit(a.auth, { worldSize: 2 });
  assert.equal(ranks.statusCode, 429);
  assert.equal(
    ranks.json().message,
    "this team's active runs hold 3 ranks; 2 more would pass its quota of 3: retry when a run has finished",
  );
  const unknown = await env.app.inject({
    method: 'PATCH',
    url: '/v1/teams/00000000-0000-4000-8000-000000000000',
    headers: bearer(env.adminToken),
    payload: { maxPriority: 0 },
  });
  assert.equal(unknown.statusCode, 404);
});

test('per-token rate limit: two API replicas share the count in Redis; another token is not affected', async () => {
  const { auth } = await env.team();
  const other = await env.team();
  const replica = () =>
    buildApp({
      db: env.db,
      redis: env.redis,
      runsQueue: env.queue,
      queuePrefix: `${env.prefix}-rl`,
      s3: { client: env.s3.client, bucket: env.s3.bucket },
      rateLimit: { max: 5, windowMs: 60_000 },
    });
  const [r1, r2] = [await replica(), await replica()];
  try {
    const codes: number[] = [];
    for (const app of [r1, r1, r1, r2, r2, r1, r2])
      codes.push((await app.inject({ method: 'GET', url: '/v1/runs', headers: auth })).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429]);
    const limited = await r2.inject({ method: 'GET', url: '/v1/runs', headers: auth });
    assert.ok(
      Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60,
      String(limited.headers['retry-after']),
    );
    assert.match(limited.json().message, /^rate limit: at most 5 requests per 60 s per token; retry in \d+ s$/);
    assert.equal((await r1.inject({ method: 'GET', url: '/v1/runs', headers: other.auth })).statusCode, 200);
    // health and readiness are not limited
    assert.equal((await r1.inject({ method: 'GET', url: '/healthz', headers: auth })).statusCode, 200);
  } finally {
    await r1.close();
    await r2.close();
  }
});

test('a worldSize above the workers registered now is refused; expired registrations do not count', async () => {
  const { auth } = await env.team();
  await registerWorker(env.redis, env.prefix, 'w-1');
  await registerWorker(env.redis, env.prefix, 'w-2');
  await registerWorker(env.redis, env.prefix, 'w-dead', -1000);
  const three = await submit(auth, { worldSize: 3, validateOnly: true });
  assert.equal(three.statusCode, 400);
  assert.equal(three.json().message, 'body/worldSize 3 is more than the 2 workers registered now: a gang of 3 ranks could never assemble');
  assert.equal((await submit(auth, { worldSize: 2, validateOnly: true })).statusCode, 200);
  await env.redis.del(`${env.prefix}:cim:workers`);
});
