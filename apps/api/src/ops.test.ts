import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { presets } from '@cim-forge/config';
import { buildApp } from './app.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
before(async () => {
  env = await startApiTestEnv();
  ({ auth } = await env.team());
});
after(async () => {
  await env?.close();
});

test('/healthz and /readyz answer 200 without auth while Postgres and Redis are up', async () => {
  const h = await env.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(h.statusCode, 200);
  assert.deepEqual(h.json(), { ok: true });
  const r = await env.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { ok: true, postgres: 'ok', redis: 'ok' });
});

test('/readyz → 503 naming Redis when Redis does not answer', async () => {
  // a real client to a port nothing listens on, failing fast instead of queueing commands
  const deadRedis = new Redis({
    port: 1,
    host: '127.0.0.1',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  deadRedis.on('error', () => {});
  const app = await buildApp({ db: env.db, redis: deadRedis, runsQueue: env.queue, s3: { client: env.s3.client, bucket: env.s3.bucket } });
  try {
    const r = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(r.statusCode, 503);
    const body = r.json();
    assert.equal(body.ok, false);
    assert.equal(body.postgres, 'ok');
    assert.equal(body.redis, 'unavailable');
    // generic: no driver message, host or port reaches the caller (issue 13)
    assert.equal(body.message, 'not ready: redis: unavailable');
    assert.doesNotMatch(body.message, /postgres/);
  } finally {
    await app.close();
    deadRedis.disconnect();
  }
});

test('/metrics: the request histogram labelled by route pattern, never the raw URL', async () => {
  const list = await env.app.inject({ method: 'GET', url: '/v1/runs?limit=3', headers: auth });
  assert.equal(list.statusCode, 200);
  const run = await env.app.inject({ method: 'GET', url: '/v1/runs/00000000-0000-4000-8000-000000000000', headers: auth });
  assert.equal(run.statusCode, 404);
  const m = await env.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(m.statusCode, 200);
  assert.match(m.headers['content-type'] as string, /^text\/plain/);
  assert.ok(
    m.body.includes('cim_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/runs",status_code="200"}'),
    m.body.slice(0, 500),
  );
  assert.ok(m.body.includes('cim_http_request_duration_seconds_count{method="GET",route="/v1/runs/:id",status_code="404"} 1'));
  assert.ok(!m.body.includes('00000000-0000-4000-8000-000000000000'));
  assert.ok(!m.body.includes('limit=3'));
});

test('a fresh registry per app carries the default process metrics', async () => {
  const app = await buildApp({ db: env.db, redis: env.redis, runsQueue: env.queue, s3: { client: env.s3.client, bucket: env.s3.bucket } });
  try {
    const m = await app.inject({ method: 'GET', url: '/metrics' });
    // createRegistry labels every series with the component (libs/telemetry)
    assert.match(m.body, /^process_cpu_user_seconds_total\{component="api"\} \d/m);
  } finally {
    await app.close();
  }
});

test('GET /v1/presets lists every preset with its resolved config', async () => {
  const r = await env.app.inject({ method: 'GET', url: '/v1/presets', headers: auth });
  assert.equal(r.statusCode, 200);
  const p = r.json();
  assert.deepEqual(
    p.pretrain.map((x: { name: string }) => x.name),
    Object.keys(presets),
  );
  const smoke = p.pretrain.find((x: { name: string }) => x.name === 'smoke');
  assert.equal(smoke.description, presets.smoke.description);
  assert.deepEqual([smoke.config.batchSize, smoke.config.model, smoke.config.seed], [32, 'cimVitMicroPatch4', 0]);
  assert.deepEqual(
    p.finetune.map((x: { name: string }) => x.name),
    ['smoke'],
  );
  assert.equal(p.finetune[0].config.epochs, 1);
  assert.equal(p.finetune[0].config.layerDecay, 0.8);
  assert.equal(p.eval[0].config.images, 128);
  const anonymous = await env.app.inject({ method: 'GET', url: '/v1/presets' });
  assert.equal(anonymous.statusCode, 401);
});

test('/docs/json: an OpenAPI 3.1 document with every route, each with summary, tags, security and responses', async () => {
  const r = await env.app.inject({ method: 'GET', url: '/docs/json' });
  assert.equal(r.statusCode, 200);
  const doc = r.json();
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
    type: 'http',
    scheme: 'bearer',
    description: 'a cimf_… team or admin token',
  });
  const expected: Record<string, string[]> = {
    '/healthz': ['get'],
    '/readyz': ['get'],
    '/metrics': ['get'],
    '/v1/teams': ['post'],
    '/v1/teams/{id}': ['patch'],
    '/v1/tokens': ['get', 'post'],
    '/v1/tokens/{id}': ['delete'],
    '/v1/runs': ['get', 'post'],
    '/v1/runs/{id}': ['get'],
    '/v1/runs/{id}/cancel': ['post'],
    '/v1/runs/{id}/metrics': ['get'],
    '/v1/runs/{id}/events': ['get'],
    '/v1/runs/{id}/checkpoints': ['get'],
    '/v1/runs/{id}/checkpoints/{cid}/download': ['get'],
    '/v1/imports': ['post'],
    '/v1/imports/{id}': ['delete'],
    '/v1/queue': ['get'],
    '/v1/presets': ['get'],
    '/v1/runs/{id}/figures': ['get', 'post'],
    '/v1/webhooks': ['get', 'post'],
    '/v1/webhooks/{id}': ['delete'],
    '/v1/webhooks/{id}/deliveries': ['get'],
    '/v1/runs/{id}/stream': ['get'],
    '/v1/stream': ['get'],
    '/v1/sweeps': ['get', 'post'],
    '/v1/sweeps/{id}': ['get'],
    '/v1/sweeps/{id}/cancel': ['post'],
    '/v1/sweeps/{id}/stream': ['get'],
  };
  assert.deepEqual(Object.keys(doc.paths).sort(), Object.keys(expected).sort());
  for (const [path, methods] of Object.entries(expected)) {
    assert.deepEqual(Object.keys(doc.paths[path]).sort(), methods, path);
    for (const m of methods) {
      const op = doc.paths[path][m];
      assert.ok(op.summary?.length > 5, `${m} ${path} summary`);
      assert.ok(op.tags?.length === 1, `${m} ${path} tags`);
      // /metrics takes the deployment's metrics token (CIM_METRICS_TOKEN), the probes nothing
      assert.deepEqual(
        op.security,
        path.startsWith('/v1/') ? [{ bearerAuth: [] }] : path === '/metrics' ? [{ metricsToken: [] }] : [],
        `${m} ${path} security`,
      );
      const codes = Object.keys(op.responses);
      assert.ok(
        codes.some((c) => c.startsWith('2')),
        `${m} ${path} 2xx`,
      );
      if (path.startsWith('/v1/')) assert.ok(codes.includes('401'), `${m} ${path} 401`);
    }
  }
  const post = doc.paths['/v1/runs'].post;
  assert.equal(post.requestBody.content['application/json'].schema.additionalProperties, false);
  assert.deepEqual(post.requestBody.content['application/json'].schema.properties.kind.enum, ['pretrain', 'finetune', 'eval']);
  assert.equal(post.parameters.find((p: { name: string }) => p.name === 'idempotency-key').in, 'header');
  assert.match(doc.paths['/v1/queue'].get.description, /estimatedStartAt = now \+ Σ/);
  const ui = await env.app.inject({ method: 'GET', url: '/docs/' });
  assert.equal(ui.statusCode, 200);
  assert.match(ui.headers['content-type'] as string, /text\/html/);
});
