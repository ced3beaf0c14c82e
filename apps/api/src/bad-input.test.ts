/**
 * Issue 13's "every bad input a 4xx" findings that are not about a run's config (those are in
 * runs-validation.test.ts): each one answered 500, or the wrong 200, on main.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let teamId: string;
before(async () => {
  env = await startApiTestEnv();
  ({ auth, teamId } = await env.team());
});
after(async () => {
  await env?.close();
});

test('an Idempotency-Key reused with another body → 422; with the same body → the same run', async () => {
  const post = (payload: object) =>
    env.app.inject({ method: 'POST', url: '/v1/runs', headers: { ...auth, 'idempotency-key': 'k-1' }, payload });
  const first = await post({ kind: 'pretrain', preset: 'smoke', priority: 1 });
  assert.equal(first.statusCode, 201, first.body);
  const again = await post({ priority: 1, preset: 'smoke', kind: 'pretrain' });
  assert.equal(again.statusCode, 200);
  assert.equal(again.json().id, first.json().id);
  const other = await post({ kind: 'pretrain', preset: 'smoke', priority: 2 });
  assert.equal(other.statusCode, 422);
  assert.equal(
    other.json().message,
    `Idempotency-Key "k-1" was used for run ${first.json().id} with a different request body; use a new key for a different run`,
  );
  assert.equal(await env.db.run.count({ where: { teamId } }), 1);
});

test('x-request-id: a plain token is kept and returned; markup, control characters or 300 characters are replaced by a uuid', async () => {
  const id = async (value?: string) => {
    const r = await env.app.inject({ method: 'GET', url: '/healthz', headers: value === undefined ? {} : { 'x-request-id': value } });
    return r.headers['x-request-id'] as string;
  };
  assert.equal(await id('req-42.a:b_c'), 'req-42.a:b_c');
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  for (const bad of ['<script>alert(1)</script>', 'a'.repeat(300), 'a b', '"; DROP TABLE runs; --']) assert.match(await id(bad), uuid, bad);
  assert.match(await id(), uuid);
});

test('metrics ?from= and ?to= beyond int32 or negative → 400 naming the field', async () => {
  const run = await env.db.run.create({ data: { teamId, kind: 'pretrain', status: 'RUNNING', config: {}, worldSize: 1 } });
  for (const [q, message] of [
    ['from=2147483648', 'querystring/from must be <= 2147483647'],
    ['to=99999999999999999999', 'querystring/to must be <= 2147483647'],
    ['from=-1', 'querystring/from must be >= 0'],
  ]) {
    const r = await env.app.inject({ method: 'GET', url: `/v1/runs/${run.id}/metrics?name=loss&${q}`, headers: auth });
    assert.equal(r.statusCode, 400, `${q}: ${r.body}`);
    assert.equal(r.json().message, message, q);
  }
  const ok = await env.app.inject({ method: 'GET', url: `/v1/runs/${run.id}/metrics?name=loss&from=0&to=2147483647`, headers: auth });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('a NUL character in the URL → 400', async () => {
  const r = await env.app.inject({ method: 'GET', url: '/v1/runs?cursor=a%00b', headers: auth });
  assert.equal(r.statusCode, 400);
  assert.equal(r.json().message, 'the URL contains a NUL character');
});

test('downloading an imported source whose object is gone → 410, not 500', async () => {
  const key = `imports/${teamId}/gone.safetensors`;
  await env.s3.client.send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: key, Body: Buffer.alloc(16) }));
  const uri = `s3://${env.s3.bucket}/${key}`;
  const cp = await env.db.checkpoint.create({ data: { runId: null, uri, step: 0, status: 'COMPLETE' } });
  const run = await env.db.run.create({
    data: { teamId, kind: 'eval', status: 'SUCCEEDED', config: {}, worldSize: 1, sourceCheckpointId: cp.id },
  });
  const url = `/v1/runs/${run.id}/checkpoints/${cp.id}/download`;
  assert.equal((await env.app.inject({ method: 'GET', url, headers: auth })).statusCode, 200);
  await env.s3.client.send(new DeleteObjectCommand({ Bucket: env.s3.bucket, Key: key }));
  const r = await env.app.inject({ method: 'GET', url, headers: auth });
  assert.equal(r.statusCode, 410, r.body);
  assert.equal(r.json().message, `imported checkpoint ${cp.id}'s file gone.safetensors no longer exists in storage`);
});
