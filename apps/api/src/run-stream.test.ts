// GET /v1/runs/:id/stream and GET /v1/stream over real HTTP (fetch + a stream reader, as the
// portal reads them), against a real PostgreSQL: status changes, event rows and metric points
// arrive as written; a reconnect with Last-Event-ID gets exactly what was missed; another team's
// run is 404; the team stream shows only the caller's team's runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { writeMetrics } from '@cim-forge/db';
import { IdWindow } from './streams/id-window.ts';
import { parseRunCursor } from './streams/run-stream.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';
import { SseClient } from './testing/sse-client.ts';

let env: ApiTestEnv;
let base: string;
let a: { teamId: string; auth: { authorization: string } };
let b: { teamId: string; auth: { authorization: string } };
const clients: SseClient[] = [];

before(async () => {
  env = await startApiTestEnv({ streamPollMs: 50, streamHeartbeatMs: 200 });
  await env.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(env.app.server.address() as AddressInfo).port}`;
  a = await env.team();
  b = await env.team();
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

async function submit(auth: { authorization: string }, name: string): Promise<string> {
  const r = await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke', name } });
  assert.equal(r.statusCode, 201, r.body);
  return r.json().id;
}

test('a run stream: current status, then events, points and status changes; Last-Event-ID resumes exactly; ends after the run', async () => {
  const runId = await submit(a.auth, 'streamed');
  const s1 = await open(`/v1/runs/${runId}/stream`, a.auth);
  assert.equal(s1.status, 200);
  const first = await s1.next(() => true);
  assert.equal(first.event, 'status');
  assert.equal((first.data as { status: string }).status, 'QUEUED');
  assert.match(first.id, /^\d+\.\d+\.\d+$/);

  await env.db.runEvent.create({ data: { runId, type: 'attempt.started', message: 'attempt 1 of 2 ranks' } });
  await writeMetrics(
    env.db,
    [0, 1, 2].map((step) => ({ runId, name: 'loss', step, value: 3 - step })),
  );
  await env.db.run.update({ where: { id: runId }, data: { status: 'RUNNING', startedAt: new Date() } });
  const ev = await s1.next((e) => e.event === 'run-event');
  assert.deepEqual(
    [(ev.data as { type: string }).type, (ev.data as { message: string }).message],
    ['attempt.started', 'attempt 1 of 2 ranks'],
  );
  const pts = await s1.next((e) => e.event === 'metric');
  assert.deepEqual(
    (pts.data as { points: { name: string; step: number; value: number; rank: null }[] }).points.map((p) => [
      p.name,
      p.rank,
      p.step,
      p.value,
    ]),
    [
      ['loss', null, 0, 3],
      ['loss', null, 1, 2],
      ['loss', null, 2, 1],
    ],
  );
  const running = await s1.next((e) => e.event === 'status' && (e.data as { status: string }).status === 'RUNNING');
  // the submit's own queued event was written before the stream opened: not replayed
  assert.equal(s1.received.filter((e) => e.event === 'run-event').length, 1);
  const lastId = s1.received[s1.received.length - 1].id;
  assert.ok(parseRunCursor(lastId).metricId >= parseRunCursor(running.id).metricId);
  s1.close();

  // while nobody listens: one more event, two more points, then the run finishes
  await env.db.runEvent.create({ data: { runId, type: 'checkpoint.complete', message: 'step 2' } });
  await writeMetrics(
    env.db,
    [3, 4].map((step) => ({ runId, name: 'loss', step, value: 3 - step })),
  );
  await env.db.run.update({ where: { id: runId }, data: { status: 'SUCCEEDED', finishedAt: new Date() } });

  const s2 = await open(`/v1/runs/${runId}/stream`, { ...a.auth, 'last-event-id': lastId });
  await s2.waitEnd();
  const events = s2.received.filter((e) => e.event === 'run-event').map((e) => (e.data as { type: string }).type);
  const points = s2.received
    .filter((e) => e.event === 'metric')
    .flatMap((e) => (e.data as { points: { step: number }[] }).points.map((p) => p.step));
  const statuses = s2.received.filter((e) => e.event === 'status').map((e) => (e.data as { status: string }).status);
  // inside the reorder window a resume may repeat rows: what is new must be there, exactly once each
  assert.deepEqual(
    events.filter((t) => t === 'checkpoint.complete'),
    ['checkpoint.complete'],
  );
  assert.deepEqual(
    points.filter((s) => s >= 3),
    [3, 4],
  );
  assert.deepEqual(statuses, ['SUCCEEDED']);
  // ids never go backwards
  const ids = s2.received.map((e) => parseRunCursor(e.id));
  assert.ok(
    ids.every(
      (c, i) => i === 0 || (c.eventId >= ids[i - 1].eventId && c.metricId >= ids[i - 1].metricId && c.statusMs >= ids[i - 1].statusMs),
    ),
  );
});

test("another team's run is 404, no token 401, a made-up Last-Event-ID 400", async () => {
  const runId = await submit(a.auth, 'private');
  const other = await open(`/v1/runs/${runId}/stream`, b.auth);
  assert.equal(other.status, 404);
  assert.equal(JSON.parse(other.errorBody).message, `run ${runId} not found`);
  const anon = await open(`/v1/runs/${runId}/stream`, {});
  assert.equal(anon.status, 401);
  const bad = await open(`/v1/runs/${runId}/stream`, { ...a.auth, 'last-event-id': 'abc' });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.errorBody).message, /^Last-Event-ID must be <status ms>\.<event id>\.<metric id>/);
  const badTeam = await open('/v1/stream', { ...a.auth, 'last-event-id': '1.2.3' });
  assert.equal(badTeam.status, 400);
});

test("the team stream: the team's own run changes only, resumable", async () => {
  const s = await open('/v1/stream', a.auth);
  assert.equal(s.status, 200);
  // let the stream take its starting position before anything changes
  await new Promise((r) => setTimeout(r, 200));
  const mine = await submit(a.auth, 'mine');
  const theirs = await submit(b.auth, 'theirs');
  const queued = await s.next((e) => (e.data as { id: string }).id === mine);
  assert.deepEqual(
    [queued.event, (queued.data as { status: string }).status, (queued.data as { name: string }).name],
    ['status', 'QUEUED', 'mine'],
  );
  const cancel = await env.app.inject({ method: 'POST', url: `/v1/runs/${mine}/cancel`, headers: a.auth });
  assert.equal(cancel.statusCode, 202);
  const cancelled = await s.next((e) => (e.data as { status: string }).status === 'CANCELLED');
  assert.equal((cancelled.data as { id: string }).id, mine);
  assert.equal(s.received.filter((e) => (e.data as { id: string }).id === theirs).length, 0);
  assert.equal(s.received.filter((e) => (e.data as { id: string }).id === mine).length, 2);
  s.close();

  // resume from the QUEUED message: the CANCELLED change comes again
  const r = await open('/v1/stream', { ...a.auth, 'last-event-id': queued.id });
  const again = await r.next((e) => (e.data as { status: string }).status === 'CANCELLED');
  assert.equal((again.data as { id: string }).id, mine);
  assert.ok(Number(again.id) >= Number(queued.id));
  // an admin sees every team's runs
  const admin = await open('/v1/stream', { authorization: `Bearer ${env.adminToken}`, 'last-event-id': queued.id });
  await admin.next((e) => (e.data as { id: string }).id === theirs);
});

test('IdWindow: a batch that commits after higher ids were read is still delivered, once', () => {
  const w = new IdWindow(100n, 16n);
  const rows = (...ids: number[]) => ids.map((id) => ({ id: BigInt(id) }));
  assert.deepEqual(
    w.accept(rows(105, 106)).map((r) => r.id),
    [105n, 106n],
  );
  assert.equal(w.low, 90n);
  // ids 101..104 commit late; the next read (id > 90) sees them with the ones already sent
  assert.deepEqual(
    w.accept(rows(101, 102, 103, 104, 105, 106, 107)).map((r) => r.id),
    [101n, 102n, 103n, 104n, 107n],
  );
  assert.equal(w.position, 107n);
  assert.deepEqual(w.accept(rows(101, 107)), []);
});

test('app.close() ends open streams instead of waiting for them', async () => {
  const runId = await submit(a.auth, 'held-open');
  const s = await open(`/v1/runs/${runId}/stream`, a.auth);
  await s.next(() => true);
  // heartbeats keep arriving while nothing changes: still open after several poll cycles
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(s.done, false);
  await env.app.close();
  await s.waitEnd(5000);
  assert.equal(s.done, true);
});
