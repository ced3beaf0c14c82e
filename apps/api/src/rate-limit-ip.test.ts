// The per-IP limit runs before authentication (issue 24, MEDIUM 3): a flood of made-up bearer
// tokens from one address gets 429 once over the limit, and those requests never reach PostgreSQL
// (token lookups counted by a Prisma query extension on the API's client). Another address is not
// affected. Real Redis (the limiter's store) and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Db } from '@cim-forge/db';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

const IP_MAX = 20;
let env: ApiTestEnv;
let tokenLookups = 0;

before(async () => {
  env = await startApiTestEnv(
    { rateLimit: { max: 1000, windowMs: 60_000 }, ipRateLimit: { max: IP_MAX, windowMs: 60_000 } },
    (db) =>
      db.$extends({
        query: {
          apiToken: {
            async findUnique({ args, query }) {
              tokenLookups++;
              return query(args);
            },
          },
        },
      }) as unknown as Db,
  );
});
after(async () => {
  await env?.close();
});

test('made-up bearers from one address: 401 up to the per-IP limit, then 429 without a database lookup', async () => {
  const codes: number[] = [];
  tokenLookups = 0;
  for (let i = 0; i < IP_MAX + 15; i++) {
    const r = await env.app.inject({
      method: 'GET',
      url: '/v1/runs',
      headers: { authorization: `Bearer cimf_${randomBytes(32).toString('base64url')}` },
      remoteAddress: '203.0.113.9',
    });
    codes.push(r.statusCode);
    if (r.statusCode === 429) {
      assert.match(r.json().message, new RegExp(`at most ${IP_MAX} requests per 60 s from one address`));
      assert.ok(Number(r.headers['retry-after']) > 0);
    }
  }
  assert.deepEqual(
    codes,
    Array.from({ length: IP_MAX + 15 }, (_, i) => (i < IP_MAX ? 401 : 429)),
  );
  assert.equal(tokenLookups, IP_MAX, 'each refused request still looked its token up');
  // another address, with a real token, is unaffected
  const t = await env.team();
  const ok = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: t.auth, remoteAddress: '198.51.100.4' });
  assert.equal(ok.statusCode, 200, ok.body);
});
