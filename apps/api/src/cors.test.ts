import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './config.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

const PORTAL = 'https://portal.example.com';
let env: ApiTestEnv;

before(async () => {
  env = await startApiTestEnv({ corsOrigins: [PORTAL, 'http://127.0.0.1:5173'] });
});
after(async () => {
  await env?.close();
});

test('a configured origin gets CORS headers on a preflight and on the request itself', async () => {
  const pre = await env.app.inject({
    method: 'OPTIONS',
    url: '/v1/runs',
    headers: { origin: PORTAL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
  });
  assert.equal(pre.statusCode, 204);
  assert.equal(pre.headers['access-control-allow-origin'], PORTAL);
  assert.match(String(pre.headers['access-control-allow-methods']), /\bPOST\b/);
  assert.match(String(pre.headers['access-control-allow-headers']), /\bauthorization\b/);
  assert.equal(pre.headers['access-control-max-age'], '600');
  assert.equal(pre.headers['access-control-allow-credentials'], undefined);

  const { auth } = await env.team();
  const r = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: { ...auth, origin: PORTAL } });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['access-control-allow-origin'], PORTAL);
  assert.match(String(r.headers.vary), /Origin/i);
  // errors carry them too, so the portal can read the message
  const e = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: { origin: 'http://127.0.0.1:5173' } });
  assert.equal(e.statusCode, 401);
  assert.equal(e.headers['access-control-allow-origin'], 'http://127.0.0.1:5173');
});

test('any other origin gets no CORS headers (the browser withholds the response)', async () => {
  for (const origin of ['https://evil.example.com', 'https://portal.example.com.evil.com', 'http://portal.example.com', 'null']) {
    const pre = await env.app.inject({ method: 'OPTIONS', url: '/v1/runs', headers: { origin, 'access-control-request-method': 'POST' } });
    assert.equal(pre.headers['access-control-allow-origin'], undefined, origin);
    const { auth } = await env.team();
    const r = await env.app.inject({ method: 'GET', url: '/v1/runs', headers: { ...auth, origin } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['access-control-allow-origin'], undefined, origin);
  }
});

test('CIM_CORS_ORIGINS: exact http(s) origins, comma-separated; anything else is refused by name', () => {
  const minimal = { DATABASE_URL: 'postgresql://u@db:5432/cim', S3_BUCKET: 'b' };
  assert.deepEqual(loadConfig(minimal).corsOrigins, []);
  assert.deepEqual(loadConfig({ ...minimal, CIM_CORS_ORIGINS: 'https://a.example, http://127.0.0.1:5173/' }).corsOrigins, [
    'https://a.example',
    'http://127.0.0.1:5173',
  ]);
  assert.throws(() => loadConfig({ ...minimal, CIM_CORS_ORIGINS: '*' }), /CIM_CORS_ORIGINS: "\*" is not an origin/);
  assert.throws(() => loadConfig({ ...minimal, CIM_CORS_ORIGINS: 'https://a.example/app' }), /must be an exact http\(s\) origin/);
  assert.throws(
    () => loadConfig({ ...minimal, CIM_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/40' }),
    /CIM_WEBHOOK_ALLOWED_NETWORKS: .*prefix length/,
  );
  assert.deepEqual(loadConfig({ ...minimal, CIM_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32,10.1.0.0/16' }).webhookAllowedNetworks, [
    '127.0.0.1/32',
    '10.1.0.0/16',
  ]);
});
