// A token flooding the API (issue 24, the load test's fairness at p99): the per-token limit runs
// before authentication, so a token over it costs no PostgreSQL lookup (counted by a Prisma query
// extension on the API's client); once a key is known over its limit, this replica refuses it from
// memory after a short delay (no Redis round trip, and a client retrying in a loop is slowed to a
// few requests a second). Another token is not affected. Real Redis and PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import type { Db } from '@cim-forge/db';
import { OverLimit } from './plugins/rate-limit.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

const MAX = 5;
const DELAY_MS = 150;
let env: ApiTestEnv;
let tokenLookups = 0;

before(async () => {
  env = await startApiTestEnv(
    { rateLimit: { max: MAX, windowMs: 60_000 }, ipRateLimit: { max: 10_000, windowMs: 60_000 }, rateLimitRefusalDelayMs: DELAY_MS },
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

test('a token over its limit: 429 without a token lookup, from memory after the delay; another token unaffected', async () => {
  const t = await env.team();
  const other = await env.team();
  tokenLookups = 0;
  const codes: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < MAX + 6; i++) {
    const t0 = performance.now();
    const r = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: t.auth });
    ms.push(performance.now() - t0);
    codes.push(r.statusCode);
    if (r.statusCode === 429) {
      assert.match(r.json().message, new RegExp(`^rate limit: at most ${MAX} requests per 60 s per token; retry in \\d+ s$`));
      assert.ok(Number(r.headers['retry-after']) >= 1 && Number(r.headers['retry-after']) <= 60, String(r.headers['retry-after']));
    }
  }
  assert.deepEqual(
    codes,
    Array.from({ length: MAX + 6 }, (_, i) => (i < MAX ? 200 : 429)),
  );
  assert.equal(tokenLookups, MAX, 'only the requests within the limit looked the token up');
  // the first refusal comes from Redis at once; the next five from memory, each after the delay
  for (const d of ms.slice(MAX + 1)) assert.ok(d >= DELAY_MS - 5, `a refusal from memory took ${d.toFixed(1)} ms`);
  const ok = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: other.auth });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('OverLimit: a key is over until its window ends, then forgotten; the map stays bounded', () => {
  const o = new OverLimit(3);
  o.mark('a', 1000, 0);
  assert.equal(o.left('a', 400), 600);
  assert.equal(o.left('a', 1000), 0);
  assert.equal(o.left('a', 400), 0, 'forgotten once its window ended');
  o.mark('x', 0, 0);
  assert.equal(o.left('x', 0), 0, 'a zero TTL marks nothing');
  for (const k of ['b', 'c', 'd']) o.mark(k, 10, 0);
  o.mark('e', 10_000, 20);
  assert.equal(o.left('e', 20), 10_000);
  assert.deepEqual(
    ['b', 'c', 'd'].map((k) => o.left(k, 5)),
    [0, 0, 0],
    'expired keys were dropped to make room',
  );
});
