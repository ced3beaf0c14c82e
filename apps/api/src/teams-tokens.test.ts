import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hashToken } from './api-token.ts';
import { bearer, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
before(async () => {
  env = await startApiTestEnv();
});
after(async () => {
  await env?.close();
});

test('admin creates a team and a token; the token works and is stored only as its sha256', async () => {
  const t = await env.app.inject({ method: 'POST', url: '/v1/teams', headers: bearer(env.adminToken), payload: { name: 'vision' } });
  assert.equal(t.statusCode, 201);
  const team = t.json();
  assert.equal(team.name, 'vision');
  assert.match(team.id, /^[0-9a-f-]{36}$/);

  const k = await env.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(env.adminToken),
    payload: { teamId: team.id, name: 'ci' },
  });
  assert.equal(k.statusCode, 201);
  const created = k.json();
  assert.match(created.token, /^cimf_[A-Za-z0-9_-]{43}$/);
  assert.equal(created.prefix, created.token.slice(0, 12));
  assert.equal(created.teamId, team.id);
  assert.equal(created.admin, false);

  const row = await env.db.apiToken.findUniqueOrThrow({ where: { id: created.id } });
  assert.equal(row.tokenHash, hashToken(created.token));
  assert.equal(row.lastUsedAt, null);

  const list = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: bearer(created.token) });
  assert.equal(list.statusCode, 200);
  assert.deepEqual(list.json(), { runs: [], nextCursor: null });
  const used = await env.db.apiToken.findUniqueOrThrow({ where: { id: created.id } });
  assert.ok(used.lastUsedAt instanceof Date && Date.now() - used.lastUsedAt.getTime() < 10_000);
});

test('duplicate team name → 409; token for an unknown team → 404; token without team or admin → 400', async () => {
  await env.team('dup');
  const again = await env.app.inject({ method: 'POST', url: '/v1/teams', headers: bearer(env.adminToken), payload: { name: 'dup' } });
  assert.equal(again.statusCode, 409);
  assert.deepEqual(again.json(), { statusCode: 409, error: 'Conflict', message: 'a team named "dup" already exists' });

  const unknown = await env.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(env.adminToken),
    payload: { teamId: '00000000-0000-4000-8000-000000000000' },
  });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().message, 'team 00000000-0000-4000-8000-000000000000 not found');

  const neither = await env.app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(env.adminToken), payload: {} });
  assert.equal(neither.statusCode, 400);
  assert.match(neither.json().message, /teamId .* or admin: true/);
});

test('missing, malformed, unknown and revoked tokens → 401; a team token on admin routes → 403', async () => {
  const { token, auth } = await env.team();
  const cases: [Record<string, string>, RegExp][] = [
    [{}, /missing or malformed Authorization header/],
    [{ authorization: token }, /missing or malformed/],
    [{ authorization: `Basic ${token}` }, /missing or malformed/],
    [bearer('cimf_' + 'x'.repeat(43)), /invalid or revoked token/],
  ];
  for (const [headers, message] of cases) {
    const r = await env.app.inject({ method: 'GET', url: '/v1/runs', headers });
    assert.equal(r.statusCode, 401, JSON.stringify(headers));
    assert.equal(r.json().error, 'Unauthorized');
    assert.match(r.json().message, message);
  }

  const forbidden = await env.app.inject({ method: 'POST', url: '/v1/teams', headers: auth, payload: { name: 'sneaky' } });
  assert.equal(forbidden.statusCode, 403);
  assert.equal(forbidden.json().message, 'this route needs an admin token');
  const forbiddenToken = await env.app.inject({ method: 'POST', url: '/v1/tokens', headers: auth, payload: { admin: true } });
  assert.equal(forbiddenToken.statusCode, 403);
  assert.equal(await env.db.team.count({ where: { name: 'sneaky' } }), 0);

  await env.db.apiToken.update({ where: { tokenHash: hashToken(token) }, data: { revokedAt: new Date() } });
  const revoked = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: auth });
  assert.equal(revoked.statusCode, 401);
  assert.equal(revoked.json().message, 'invalid or revoked token');
});

test('an admin token made by the API administers too (teamless)', async () => {
  const k = await env.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(env.adminToken),
    payload: { admin: true, name: 'ops' },
  });
  assert.equal(k.statusCode, 201);
  assert.equal(k.json().teamId, null);
  const t = await env.app.inject({
    method: 'POST',
    url: '/v1/teams',
    headers: bearer(k.json().token),
    payload: { name: 'made-by-db-admin' },
  });
  assert.equal(t.statusCode, 201);
  // runs belong to teams: a teamless admin cannot submit
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: bearer(k.json().token),
    payload: { kind: 'pretrain', preset: 'smoke' },
  });
  assert.equal(r.statusCode, 403);
  assert.match(r.json().message, /runs belong to a team/);
});
