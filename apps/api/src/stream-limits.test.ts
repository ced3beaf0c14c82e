// Limits on the live streams (issue 24, HIGH 2 and MEDIUM 4 and 6), over real HTTP against a real
// PostgreSQL: a revoked or expired token's open stream is ended with `event: end` {reason: "token"};
// a stream ends at its longest lifetime; a token and a team hold only so many open streams (429 with
// the count); a resume from the start of a run with many metric rows sends its first page before
// reading the rest and stops reading when the client leaves (counted in metric queries, not timed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeMetrics, type Db } from '@cim-forge/db';
import { startApiTestEnv, bearer, type ApiTestEnv } from './testing/api-test-env.ts';
import { SseClient } from './testing/sse-client.ts';

const PAGE = 2000;
const POINTS = 60_000;
const LIFETIME_S = 6;

let env: ApiTestEnv;
let base: string;
/** the paged run's metric reads (findMany), counted by a Prisma query extension on the API's client */
let pagedRunId = '';
let metricReads = 0;
const clients: SseClient[] = [];

function countMetricReads(db: Db): Db {
  return db.$extends({
    query: {
      metric: {
        async findMany({ args, query }) {
          if (pagedRunId !== '' && args.where?.runId === pagedRunId) metricReads++;
          return query(args);
        },
      },
    },
  }) as unknown as Db;
}

before(async () => {
  env = await startApiTestEnv(
    {
      streamPollMs: 50,
      streamHeartbeatMs: 200,
      streamLimits: { perToken: 2, perTeam: 3, maxSeconds: LIFETIME_S },
      streamPages: { events: 100, metrics: PAGE },
    },
    countMetricReads,
  );
  await env.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(env.app.server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const c of clients) c.close();
  await env?.close();
});

async function open(path: string, headers: Record<string, string>) {
  const c = await SseClient.open(`${base}${path}`, headers);
  clients.push(c);
  return c;
}

/** a second token of the team, with its id */
async function newToken(teamId: string): Promise<{ id: string; auth: { authorization: string } }> {
  const r = await env.app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(env.adminToken), payload: { teamId } });
  assert.equal(r.statusCode, 201, r.body);
  return { id: r.json().id, auth: bearer(r.json().token) };
}

test('revoking a token ends its open streams with a reason; the token is refused on reconnect', async () => {
  const t = await env.team();
  const k = await newToken(t.teamId);
  const s = await open('/v1/stream', k.auth);
  assert.equal(s.status, 200);
  const del = await env.app.inject({ method: 'DELETE', url: `/v1/tokens/${k.id}`, headers: t.auth });
  assert.equal(del.statusCode, 200, del.body);
  const end = await s.next((e) => e.event === 'end');
  assert.equal((end.data as { reason: string }).reason, 'token');
  assert.match((end.data as { message: string }).message, /was revoked at .*: this stream is closed/);
  await s.waitEnd();
  const again = await open('/v1/stream', k.auth);
  assert.equal(again.status, 401);
});

test("an expired token's open stream is ended", async () => {
  const t = await env.team();
  const k = await newToken(t.teamId);
  const s = await open('/v1/stream', k.auth);
  assert.equal(s.status, 200);
  await env.db.apiToken.update({ where: { id: k.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
  const end = await s.next((e) => e.event === 'end');
  assert.equal((end.data as { reason: string }).reason, 'token');
  assert.match((end.data as { message: string }).message, /expired at/);
  await s.waitEnd();
});

test('a stream ends at its longest lifetime, saying to reconnect', async () => {
  const t = await env.team();
  const s = await open('/v1/stream', t.auth);
  assert.equal(s.status, 200);
  const end = await s.next((e) => e.event === 'end', (LIFETIME_S + 30) * 1000);
  assert.deepEqual(end.data, {
    reason: 'lifetime',
    message: `this stream reached its longest life of ${LIFETIME_S} s: reconnect with Last-Event-ID`,
  });
  await s.waitEnd();
});

test('open streams are capped per token and per team: 429 with the reason; a closed one frees its slot', async () => {
  const t = await env.team();
  const k2 = await newToken(t.teamId);
  const a1 = await open('/v1/stream', t.auth);
  const a2 = await open('/v1/stream', t.auth);
  assert.deepEqual([a1.status, a2.status], [200, 200]);
  const a3 = await open('/v1/stream', t.auth);
  assert.equal(a3.status, 429);
  assert.match(JSON.parse(a3.errorBody).message, /already has 2 open streams, the most one token may hold/);
  // the team's third stream, on its other token, is allowed; a fourth is not
  const b1 = await open('/v1/stream', k2.auth);
  assert.equal(b1.status, 200);
  const b2 = await open('/v1/stream', k2.auth);
  assert.equal(b2.status, 429);
  assert.match(JSON.parse(b2.errorBody).message, /this team already has 3 open streams/);
  // another team is not affected
  const other = await env.team();
  const o1 = await open('/v1/stream', other.auth);
  assert.equal(o1.status, 200);
  o1.close();
  // closing one gives its slot back (the server sees the close on its next write or poll)
  a1.close();
  let again: SseClient | undefined;
  for (let i = 0; i < 100 && again?.status !== 200; i++) {
    again?.close();
    await new Promise((r) => setTimeout(r, 100));
    again = await open('/v1/stream', t.auth);
  }
  assert.equal(again!.status, 200);
  for (const c of [a2, b1, again!]) c.close();
});

test('a resume from 0.0.0 sends its first page before reading the rest, and stops reading when the client leaves', async () => {
  const t = await env.team();
  const r = await env.app.inject({ method: 'POST', url: '/v1/runs', headers: t.auth, payload: { kind: 'pretrain', preset: 'smoke' } });
  assert.equal(r.statusCode, 201, r.body);
  pagedRunId = r.json().id;
  await writeMetrics(
    env.db,
    Array.from({ length: POINTS }, (_, step) => ({ runId: pagedRunId, name: 'loss', step, value: 1 / (step + 1) })),
  );
  const pagesInAll = POINTS / PAGE;
  metricReads = 0;
  const { readsAtFirstPoint, bytesAtFirstPoint } = await new Promise<{ readsAtFirstPoint: number; bytesAtFirstPoint: number }>(
    (resolve, reject) => {
      const req = http.get(`${base}/v1/runs/${pagedRunId}/stream`, { headers: { ...t.auth, 'last-event-id': '0.0.0' } }, (res) => {
        assert.equal(res.statusCode, 200);
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          if (text.includes('event: metric')) {
            const at = { readsAtFirstPoint: metricReads, bytesAtFirstPoint: text.length };
            // the client leaves after its first page
            req.destroy();
            resolve(at);
          }
        });
        res.on('error', () => {});
      });
      req.on('error', (e) => {
        if (!(e as NodeJS.ErrnoException).code?.startsWith('ECONNRESET')) reject(e);
      });
    },
  );
  assert.ok(bytesAtFirstPoint > 0);
  // before: every page was read into memory before the first byte went out (30 reads, then bytes)
  assert.ok(readsAtFirstPoint <= 5, `${readsAtFirstPoint} metric reads of ${pagesInAll} before the first point reached the client`);
  // the server notices the close: its reads stop well short of the history's pages
  let last = -1;
  for (let i = 0; i < 50 && metricReads !== last; i++) {
    last = metricReads;
    await new Promise((res) => setTimeout(res, 300));
  }
  assert.ok(metricReads <= readsAtFirstPoint + 3, `${metricReads} metric reads in all after the client left at ${readsAtFirstPoint}`);
  assert.ok(metricReads < pagesInAll);
});
