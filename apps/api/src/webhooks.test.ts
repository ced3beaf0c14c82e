/**
 * Webhooks on the real parts: Postgres (the trigger on runs makes the deliveries), Redis (BullMQ
 * retries), and an HTTP receiver on 127.0.0.1, which the admin's allowance (127.0.0.1/32) lets
 * webhooks reach. The dispatcher is the one the controller runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { redisConnection } from '@cim-forge/queue';
import { AddressPolicy, signatureProblem, WEBHOOKS_QUEUE, WebhookDispatcher } from '@cim-forge/webhooks';
import { redisUrl, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

interface Received {
  path: string;
  event: string | undefined;
  delivery: string | undefined;
  body: string;
  signatureProblem: string | undefined;
}

let env: ApiTestEnv;
let strictEnv: ApiTestEnv;
let dispatcher: WebhookDispatcher;
let server: Server;
let base: string;
const received: Received[] = [];
/** per path: the statuses to answer, in order, then 200 */
const scripts = new Map<string, number[]>();
const secrets = new Map<string, string>();

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString()));
    req.on('end', () => resolve(s));
  });

before(async () => {
  server = createServer(async (req, res) => {
    const body = await readBody(req);
    const path = req.url ?? '/';
    const secret = secrets.get(path) ?? '';
    received.push({
      path,
      body,
      event: req.headers['x-cim-event'] as string,
      delivery: req.headers['x-cim-delivery'] as string,
      signatureProblem: signatureProblem({ secret, body, header: req.headers['x-cim-signature'] as string }),
    });
    const status = scripts.get(path)?.shift() ?? 200;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : `boom ${status}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const allowLoopback = new AddressPolicy(['127.0.0.1/32']);
  env = await startApiTestEnv({ webhookPolicy: allowLoopback });
  strictEnv = await startApiTestEnv();
  dispatcher = new WebhookDispatcher({
    db: env.db,
    redisUrl,
    prefix: env.prefix,
    policy: allowLoopback,
    pollMs: 100,
    backoffMs: 100,
    attempts: 5,
    timeoutMs: 5000,
  });
  await dispatcher.start();
});

after(async () => {
  await dispatcher?.close();
  for (const e of [env, strictEnv]) {
    if (!e) continue;
    const q = new Queue(WEBHOOKS_QUEUE, { connection: redisConnection(redisUrl), prefix: e.prefix });
    await q.obliterate({ force: true });
    await q.close();
  }
  await env?.close();
  await strictEnv?.close();
  await new Promise((r) => server?.close(r));
});

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function register(e: ApiTestEnv, auth: { authorization: string }, path: string, events?: string[]) {
  const r = await e.app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: auth,
    payload: { url: `${base}${path}`, ...(events ? { events } : {}) },
  });
  assert.equal(r.statusCode, 201, r.body);
  secrets.set(path, r.json().secret);
  return r.json() as { id: string; url: string; secret: string; events: string[] };
}

type Delivery = {
  id: string;
  event: string;
  status: string;
  attempts: number;
  statusCode: number | null;
  error: string | null;
  attemptLog: { statusCode: number | null }[];
  runId: string;
  payload: string;
};
async function deliveries(e: ApiTestEnv, auth: { authorization: string }, id: string): Promise<Delivery[]> {
  const r = await e.app.inject({ method: 'GET', url: `/v1/webhooks/${id}/deliveries`, headers: auth });
  assert.equal(r.statusCode, 200, r.body);
  return r.json().items;
}

test('run state changes reach a registered URL, signed with its secret; the body is the run at that change', async () => {
  const { auth } = await env.team();
  const hook = await register(env, auth, '/all');
  assert.match(hook.secret, /^whsec_/);
  assert.deepEqual(hook.events, ['run.queued', 'run.running', 'run.succeeded', 'run.failed', 'run.cancelled']);
  const list = await env.app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth });
  assert.deepEqual(
    list.json().items.map((w: { id: string }) => w.id),
    [hook.id],
  );
  assert.equal('secret' in list.json().items[0], false, 'the secret is shown once');

  const run = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json();
  // what the controller and workers do, as they do it (conditional UPDATEs of runs.status)
  await env.db.run.update({ where: { id: run.id }, data: { status: 'STARTING' } });
  await env.db.run.update({ where: { id: run.id }, data: { status: 'RUNNING', startedAt: new Date() } });
  await env.db.run.update({ where: { id: run.id }, data: { status: 'SUCCEEDED', finishedAt: new Date() } });

  // deliveries run concurrently (and retries reorder them): a receiver orders events by createdAt
  const order = ['run.queued', 'run.running', 'run.succeeded'];
  const got = (
    await waitFor('3 deliveries', async () => {
      const mine = received.filter((r) => r.path === '/all');
      return mine.length >= 3 ? mine : undefined;
    })
  ).sort((x, y) => order.indexOf(x.event!) - order.indexOf(y.event!));
  assert.equal(received.filter((r) => r.path === '/all').length, 3);
  assert.deepEqual(
    got.map((r) => r.event),
    ['run.queued', 'run.running', 'run.succeeded'],
    'STARTING is not an event',
  );
  assert.deepEqual(
    got.map((r) => r.signatureProblem),
    [undefined, undefined, undefined],
  );
  const bodies = got.map((r) => JSON.parse(r.body));
  assert.deepEqual(
    bodies.map((b) => [b.type, b.data.run.id, b.data.run.status, b.data.run.previousStatus]),
    [
      ['run.queued', run.id, 'QUEUED', null],
      ['run.running', run.id, 'RUNNING', 'STARTING'],
      ['run.succeeded', run.id, 'SUCCEEDED', 'RUNNING'],
    ],
  );
  assert.equal(bodies[2].data.run.kind, 'pretrain');
  assert.match(bodies[2].data.run.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(new Set(bodies.map((b) => b.id)).size, 3, 'every event has its own id');
  assert.ok(bodies[0].createdAt <= bodies[1].createdAt && bodies[1].createdAt <= bodies[2].createdAt, 'createdAt orders them');

  const ds = await waitFor('recorded outcomes', async () => {
    const d = await deliveries(env, auth, hook.id);
    return d.length === 3 && d.every((x) => x.status === 'succeeded') ? d : undefined;
  });
  // newest first
  assert.deepEqual(
    ds.map((d) => [d.event, d.attempts, d.statusCode, d.error]),
    [
      ['run.succeeded', 1, 200, null],
      ['run.running', 1, 200, null],
      ['run.queued', 1, 200, null],
    ],
  );
  assert.deepEqual(
    ds.map((d) => d.id).reverse(),
    got.map((r) => r.delivery),
  );
  assert.deepEqual(
    ds.map((d) => d.payload).reverse(),
    got.map((r) => r.body),
    'the listed payload is the exact body sent',
  );
});

test('a receiver that fails twice, then succeeds: 3 attempts recorded (500, 500, 200), with backoff between them', async () => {
  const { auth } = await env.team();
  const hook = await register(env, auth, '/flaky', ['run.cancelled']);
  scripts.set('/flaky', [500, 503]);
  const run = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json();
  const c = await env.app.inject({ method: 'POST', url: `/v1/runs/${run.id}/cancel`, headers: auth });
  assert.equal(c.statusCode, 202, c.body);
  const [d] = await waitFor('the delivery to succeed', async () => {
    const list = await deliveries(env, auth, hook.id);
    return list.length === 1 && list[0].status !== 'pending' ? list : undefined;
  });
  assert.equal(d.event, 'run.cancelled', 'only the subscribed event');
  assert.equal(d.status, 'succeeded');
  assert.equal(d.attempts, 3);
  assert.deepEqual(
    d.attemptLog.map((a) => a.statusCode),
    [500, 503, 200],
  );
  assert.equal(d.statusCode, 200);
  const hits = received.filter((r) => r.path === '/flaky');
  assert.equal(hits.length, 3);
  assert.deepEqual(
    hits.map((h) => h.signatureProblem),
    [undefined, undefined, undefined],
    're-signed on every attempt',
  );
  assert.equal(new Set(hits.map((h) => h.delivery)).size, 1, 'the same delivery id on every attempt');
  const log = d.attemptLog as unknown as { at: string }[];
  const gaps = log.slice(1).map((a, i) => Date.parse(a.at) - Date.parse(log[i].at));
  // exponential backoff from 100 ms: at least 100 then 200 ms between attempts
  assert.ok(gaps[0] >= 100 && gaps[1] >= 200, `gaps ${gaps}`);
});

test('a receiver that never succeeds: the delivery fails after the last attempt, with its error', async () => {
  const { auth } = await env.team();
  const hook = await register(env, auth, '/down', ['run.queued']);
  scripts.set('/down', [500, 500, 500, 500, 500, 500]);
  await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } });
  const [d] = await waitFor('the delivery to fail', async () => {
    const list = await deliveries(env, auth, hook.id);
    return list.length === 1 && list[0].status === 'failed' ? list : undefined;
  });
  assert.equal(d.attempts, 5);
  assert.equal(d.statusCode, 500);
  assert.equal(d.error, 'HTTP 500: boom 500');
});

test('SSRF: without the allowance a loopback, private or metadata URL is refused at registration', async () => {
  const { auth } = await strictEnv.team();
  for (const [url, why] of [
    [`${base}/x`, /127\.0\.0\.1 is a private, loopback/],
    ['http://localhost:9/x', /resolve|is a private, loopback/],
    ['http://10.0.0.8/x', /10\.0\.0\.8 is a private/],
    ['http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a private/],
    ['http://[::1]:80/', /::1 is a private/],
    ['http://[::ffff:7f00:1]/', /is a private/],
    ['gopher://example.com/', /must be http:\/\/ or https:\/\//],
  ] as const) {
    const r = await strictEnv.app.inject({ method: 'POST', url: '/v1/webhooks', headers: auth, payload: { url } });
    assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
    assert.match(r.json().message, /^body\/url: /);
    assert.match(r.json().message, why, url);
  }
  assert.deepEqual((await strictEnv.app.inject({ method: 'GET', url: '/v1/webhooks', headers: auth })).json().items, []);
});

test('SSRF at delivery: a host that resolves to a refused address when it is delivered to fails at once, nothing is sent', async () => {
  // registered while allowed (the API's policy), delivered by a dispatcher without the allowance: the
  // same as a name whose DNS answer changed to 127.0.0.1 after registration (rebinding)
  const strict = new WebhookDispatcher({
    db: strictEnv.db,
    redisUrl,
    prefix: strictEnv.prefix,
    policy: new AddressPolicy(),
    pollMs: 100,
    backoffMs: 100,
    attempts: 5,
  });
  await strict.start();
  try {
    const { teamId, auth } = await strictEnv.team();
    const port = (server.address() as AddressInfo).port;
    const hook = await strictEnv.db.webhook.create({
      data: { teamId, url: `http://localhost:${port}/rebound`, secret: 'whsec_x', events: ['run.queued'] },
    });
    await strictEnv.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } });
    const [d] = await waitFor('the refusal', async () => {
      const list = await deliveries(strictEnv, auth, hook.id);
      return list.length === 1 && list[0].status === 'failed' ? list : undefined;
    });
    assert.equal(d.attempts, 1, 'no retry: it cannot help');
    assert.equal(d.statusCode, null);
    assert.match(d.error!, /^refused: localhost resolved to (127\.0\.0\.1|::1) is a private, loopback/);
    assert.equal(received.filter((r) => r.path === '/rebound').length, 0);
  } finally {
    await strict.close();
  }
});

test("team scoping: another team's webhook is 404 for listing deliveries and deleting; delete removes it", async () => {
  const a = await env.team();
  const b = await env.team();
  const hook = await register(env, a.auth, '/scoped');
  assert.equal((await env.app.inject({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries`, headers: b.auth })).statusCode, 404);
  assert.equal((await env.app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}`, headers: b.auth })).statusCode, 404);
  assert.deepEqual((await env.app.inject({ method: 'GET', url: '/v1/webhooks', headers: b.auth })).json().items, []);
  const admin = await env.app.inject({ method: 'GET', url: '/v1/webhooks', headers: { authorization: `Bearer ${env.adminToken}` } });
  assert.equal(admin.statusCode, 403);
  assert.equal((await env.app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}`, headers: a.auth })).statusCode, 204);
  assert.equal((await env.app.inject({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries`, headers: a.auth })).statusCode, 404);
  const bad = await env.app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: a.auth,
    payload: { url: `${base}/x`, events: ['run.exploded'] },
  });
  assert.equal(bad.statusCode, 400);
});

test('finished deliveries older than the retention are pruned; pending and recent ones stay', async () => {
  const { teamId } = await env.team();
  const hook = await env.db.webhook.create({ data: { teamId, url: `${base}/old`, secret: 'whsec_x', events: ['run.queued'] } });
  const day = 86_400_000;
  const mk = (status: string, finishedDaysAgo: number | null) =>
    env.db.webhookDelivery.create({
      data: {
        webhookId: hook.id,
        event: 'run.queued',
        payload: '{}',
        status,
        enqueuedAt: new Date(),
        finishedAt: finishedDaysAgo === null ? null : new Date(Date.now() - finishedDaysAgo * day),
      },
    });
  const old = await mk('succeeded', 31);
  const oldFailed = await mk('failed', 45);
  const recent = await mk('succeeded', 29);
  const pendingOne = await mk('pending', null);
  const removed = await dispatcher.prune();
  assert.ok(removed >= 2);
  const left = (await env.db.webhookDelivery.findMany({ where: { webhookId: hook.id } })).map((d) => d.id).sort();
  assert.deepEqual(left, [recent.id, pendingOne.id].sort());
  assert.equal(await env.db.webhookDelivery.count({ where: { id: { in: [old.id, oldFailed.id] } } }), 0);
});
