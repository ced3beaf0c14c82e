// The portal's files at /: index.html for every page path (so shared URLs open), hashed assets
// cached for a year, /v1 untouched; without a build, / says how to make one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portal-dist-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>portal</title><div id="root"></div>');
  await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  // a build with source maps in it (an old build, or a local one with them turned on)
  await writeFile(join(dir, 'assets', 'index-abc123.js.map'), '{"version":3,"sources":["../src/app.tsx"]}');
  env = await startApiTestEnv({ portalDir: dir });
});
after(async () => {
  await env?.close();
  await rm(dir, { recursive: true, force: true });
});

test('every page path answers index.html, without a token, with a content security policy', async () => {
  for (const url of ['/', '/runs', '/runs/6f1c3c4e-1b7e-4c38-9d59-0d7c1d3a1b2c', '/compare?run=a&run=b', '/submit', '/queue', '/maps']) {
    const r = await env.app.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, url);
    assert.match(r.headers['content-type'] as string, /^text\/html/);
    assert.equal(r.body, '<!doctype html><title>portal</title><div id="root"></div>');
    assert.match(r.headers['content-security-policy'] as string, /default-src 'self'/);
  }
});

test('assets are served and cached as immutable; JSON routes and unknown paths are unchanged', async () => {
  const js = await env.app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
  assert.equal(js.statusCode, 200);
  assert.equal(js.body, 'console.log(1)');
  assert.match(js.headers['cache-control'] as string, /max-age=31536000.*immutable|immutable.*max-age=31536000/);
  const api = await env.app.inject({ method: 'GET', url: '/v1/runs' });
  assert.equal(api.statusCode, 401);
  const none = await env.app.inject({ method: 'GET', url: '/v1/nothing', headers: { authorization: `Bearer ${env.adminToken}` } });
  assert.deepEqual([none.statusCode, none.json().message], [404, 'no route GET /v1/nothing']);
  const other = await env.app.inject({ method: 'GET', url: '/not-a-page' });
  assert.equal(other.statusCode, 404);
});

test('without a build, / explains how to make one', async () => {
  const app = await buildApp({
    db: env.db,
    redis: env.redis,
    runsQueue: env.queue,
    s3: { client: env.s3.client, bucket: env.s3.bucket },
    portalDir: join(dir, 'missing'),
  });
  try {
    const r = await app.inject({ method: 'GET', url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /npm run portal:build/);
  } finally {
    await app.close();
  }
});

test('source maps are never served, even when the build directory has them (issue 24, LOW)', async () => {
  const map = await env.app.inject({ method: 'GET', url: '/assets/index-abc123.js.map' });
  assert.equal(map.statusCode, 404);
  assert.doesNotMatch(map.body, /sources/);
  // and the build makes none: the portal's Vite config turns them off
  const viteConfig = readFileSync(fileURLToPath(new URL('../../portal/vite.config.ts', import.meta.url)), 'utf8');
  assert.match(viteConfig, /^\s*sourcemap: false,/m);
});
