/** Tokens can be listed (no secrets), revoked and expired; a team sees and revokes only its own. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bearer, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
before(async () => {
  env = await startApiTestEnv();
});
after(async () => {
  await env?.close();
});

test('list: an admin sees every token, a team only its own, never a secret; last use is shown', async () => {
  const a = await env.team();
  const b = await env.team();
  await env.app.inject({ method: 'GET', url: '/v1/runs', headers: a.auth });
  const asA = await env.app.inject({ method: 'GET', url: '/v1/tokens', headers: a.auth });
  assert.equal(asA.statusCode, 200, asA.body);
  const mine = asA.json().tokens;
  assert.equal(mine.length, 1);
  assert.equal(mine[0].teamId, a.teamId);
  assert.equal(mine[0].prefix, a.token.slice(0, 12));
  assert.ok(Date.now() - Date.parse(mine[0].lastUsedAt) < 60_000);
  assert.equal(JSON.stringify(asA.json()).includes(a.token), false);
  const peek = await env.app.inject({ method: 'GET', url: `/v1/tokens?teamId=${b.teamId}`, headers: a.auth });
  assert.equal(peek.statusCode, 403);
  const admin = await env.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(env.adminToken) });
  const teams = new Set(admin.json().tokens.map((t: { teamId: string }) => t.teamId));
  assert.ok(teams.has(a.teamId) && teams.has(b.teamId));
});

test("revoke: a team cannot revoke another team's token (404); its own stops working at once", async () => {
  const a = await env.team();
  const b = await env.team();
  const bId = (await env.app.inject({ method: 'GET', url: '/v1/tokens', headers: b.auth })).json().tokens[0].id;
  const aId = (await env.app.inject({ method: 'GET', url: '/v1/tokens', headers: a.auth })).json().tokens[0].id;
  const cross = await env.app.inject({ method: 'DELETE', url: `/v1/tokens/${bId}`, headers: a.auth });
  assert.equal(cross.statusCode, 404);
  assert.equal((await env.app.inject({ method: 'GET', url: '/v1/runs', headers: b.auth })).statusCode, 200);
  const own = await env.app.inject({ method: 'DELETE', url: `/v1/tokens/${aId}`, headers: a.auth });
  assert.equal(own.statusCode, 200, own.body);
  const after = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: a.auth });
  assert.equal(after.statusCode, 401);
  assert.equal(after.json().message, 'invalid or revoked token');
  const byAdmin = await env.app.inject({ method: 'DELETE', url: `/v1/tokens/${bId}`, headers: bearer(env.adminToken) });
  assert.equal(byAdmin.statusCode, 200);
  assert.equal((await env.app.inject({ method: 'GET', url: '/v1/runs', headers: b.auth })).statusCode, 401);
  const listed = await env.app.inject({
    method: 'GET',
    url: `/v1/tokens?teamId=${b.teamId}&includeRevoked=true`,
    headers: bearer(env.adminToken),
  });
  assert.equal(listed.json().tokens[0].revokedAt, byAdmin.json().revokedAt);
});

test('expiry: a token created with expiresInSeconds stops working when it passes', async () => {
  const { teamId } = await env.team();
  const k = await env.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(env.adminToken),
    payload: { teamId, expiresInSeconds: 60 },
  });
  assert.equal(k.statusCode, 201, k.body);
  const expiresAt = Date.parse(k.json().expiresAt);
  assert.ok(Math.abs(expiresAt - (Date.now() + 60_000)) < 10_000);
  assert.equal((await env.app.inject({ method: 'GET', url: '/v1/runs', headers: bearer(k.json().token) })).statusCode, 200);
  // move the expiry into the past rather than wait a minute
  await env.db.apiToken.update({ where: { id: k.json().id }, data: { expiresAt: new Date(Date.now() - 1000) } });
  const r = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: bearer(k.json().token) });
  assert.equal(r.statusCode, 401);
  assert.match(r.json().message, /^token cimf_\S+… expired at /);
  const tooLong = await env.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(env.adminToken),
    payload: { teamId, expiresInSeconds: 10 ** 9 },
  });
  assert.equal(tooLong.statusCode, 400);
});
