/** CIM_METRICS_TOKEN on the API: /metrics and everything under /docs need it; probes and /v1 are unaffected. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { loadConfig } from './config.ts';
import { startApiTestEnv, bearer, type ApiTestEnv } from './testing/api-test-env.ts';

const metricsToken = 'metrics-0123456789abcdefghijkl';
let env: ApiTestEnv;
let auth: { authorization: string };
let teamId: string;
before(async () => {
  env = await startApiTestEnv({ metricsToken });
  ({ auth, teamId } = await env.team());
});
after(async () => {
  await env?.close();
});

const refusals = () => [{}, bearer('wrong-0123456789abcdefghijklm'), { authorization: metricsToken }, bearer(`${metricsToken}x`)];

test('/metrics: 401 with a JSON reason without the token or with a wrong one, 200 with it', async () => {
  // a team's request puts a route in the histogram; the team token is no metrics token
  assert.equal((await env.app.inject({ method: 'GET', url: '/v1/runs', headers: auth })).statusCode, 200);
  for (const headers of [...refusals(), auth, bearer(env.adminToken)]) {
    const r = await env.app.inject({ method: 'GET', url: '/metrics', headers });
    assert.equal(r.statusCode, 401, JSON.stringify(headers));
    assert.equal(r.headers['www-authenticate'], 'Bearer');
    assert.deepEqual(r.json(), {
      statusCode: 401,
      error: 'Unauthorized',
      message: 'this endpoint needs Authorization: Bearer <metrics token>',
    });
    assert.ok(!r.body.includes('cim_http_request_duration_seconds'));
  }
  const ok = await env.app.inject({ method: 'GET', url: '/metrics', headers: bearer(metricsToken) });
  assert.equal(ok.statusCode, 200);
  assert.match(ok.headers['content-type'] as string, /^text\/plain/);
  assert.ok(
    ok.body.includes('cim_http_request_duration_seconds_count{method="GET",route="/v1/runs",status_code="200"} 1'),
    ok.body.slice(0, 400),
  );
  // the refused scrapes are counted like any request, under the route pattern
  assert.ok(ok.body.includes('cim_http_request_duration_seconds_count{method="GET",route="/metrics",status_code="401"} 6'));
  assert.ok(!ok.body.includes(teamId));
});

test('/docs, /docs/json and the UI files: 401 without the token, 200 with it (over a real socket)', async () => {
  await env.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(env.app.server.address() as AddressInfo).port}`;
  for (const path of ['/docs', '/docs/json', '/docs/yaml', '/docs/static/index.html']) {
    for (const headers of refusals()) {
      const r = await fetch(base + path, { headers, redirect: 'manual' });
      assert.equal(r.status, 401, `${path} ${JSON.stringify(headers)}`);
      assert.equal((await r.json()).statusCode, 401);
    }
  }
  const doc = await fetch(`${base}/docs/json`, { headers: bearer(metricsToken) });
  assert.equal(doc.status, 200);
  const json = (await doc.json()) as { openapi: string; paths: Record<string, { get?: { security?: unknown } }> };
  assert.equal(json.openapi, '3.1.0');
  assert.deepEqual(json.paths['/metrics'].get?.security, [{ metricsToken: [] }]);
  const ui = await fetch(`${base}/docs/static/index.html`, { headers: bearer(metricsToken) });
  assert.equal(ui.status, 200);
  assert.match(await ui.text(), /swagger/i);
});

test('/healthz, /readyz and /v1 do not take the metrics token into account', async () => {
  for (const headers of [{}, bearer('wrong-0123456789abcdefghijklm')]) {
    assert.equal((await env.app.inject({ method: 'GET', url: '/healthz', headers })).statusCode, 200);
    const ready = await env.app.inject({ method: 'GET', url: '/readyz', headers });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ok: true, postgres: 'ok', redis: 'ok' });
  }
  // the metrics token is not an API token
  assert.equal((await env.app.inject({ method: 'GET', url: '/v1/runs', headers: bearer(metricsToken) })).statusCode, 401);
});

test('without a token (local development) /metrics and /docs/json stay open', async () => {
  const open = await startApiTestEnv();
  try {
    assert.equal((await open.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    assert.equal((await open.app.inject({ method: 'GET', url: '/docs/json' })).statusCode, 200);
  } finally {
    await open.close();
  }
});

test('CIM_METRICS_TOKEN in the config: read, and refused when short or spaced', () => {
  const minimal = { DATABASE_URL: 'postgresql://u@db:5432/cim', S3_BUCKET: 'ckpts' };
  assert.equal(loadConfig(minimal).metricsToken, undefined);
  assert.equal(loadConfig({ ...minimal, CIM_METRICS_TOKEN: metricsToken }).metricsToken, metricsToken);
  assert.throws(() => loadConfig({ ...minimal, CIM_METRICS_TOKEN: 'short' }), /CIM_METRICS_TOKEN must be at least 24 characters/);
  assert.throws(
    () => loadConfig({ ...minimal, CIM_METRICS_TOKEN: `${metricsToken} ${metricsToken}` }),
    /CIM_METRICS_TOKEN may hold only printable ASCII without spaces/,
  );
});
