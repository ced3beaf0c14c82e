/**
 * Imports and sources by address, two teams on real Postgres and s3rver: a team imports weights
 * only from its own import area or its own runs' checkpoints; another team's weights cannot be
 * taken by uri, and the refusal reads the same whether they exist or not.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3CheckpointStore, sha256Hex } from '@cim-forge/storage';
import { bearer, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let a: Awaited<ReturnType<ApiTestEnv['team']>>;
let b: Awaited<ReturnType<ApiTestEnv['team']>>;
let runA: string;
let checkpointA: string;
const weightsA = randomBytes(50_000);

before(async () => {
  env = await startApiTestEnv();
  a = await env.team('alpha');
  b = await env.team('beta');
  runA = (await env.app.inject({ method: 'POST', url: '/v1/runs', headers: a.auth, payload: { kind: 'pretrain', preset: 'smoke' } })).json()
    .id;
  const store = new S3CheckpointStore({ client: env.s3.client, bucket: env.s3.bucket, prefix: `runs/${runA}/checkpoints` });
  const manifest = await store.write('step-00000016', 16, { 'model.safetensors': weightsA, 'state.json': Buffer.from('{}') });
  checkpointA = (
    await env.db.checkpoint.create({
      data: {
        runId: runA,
        uri: store.uri('step-00000016'),
        step: 16,
        status: 'COMPLETE',
        manifestDigest: sha256Hex(Buffer.from(JSON.stringify(manifest))),
        completedAt: new Date(),
      },
    })
  ).id;
});
after(async () => {
  await env?.close();
});

const submit = (auth: { authorization: string }, uri: string, extra: object = {}) =>
  env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: { kind: 'finetune', preset: 'smoke', source: { uri }, ...extra },
  });

test("team B cannot take team A's weights by uri; the refusal is the one for a checkpoint that does not exist", async () => {
  const dir = `s3://${env.s3.bucket}/runs/${runA}/checkpoints/step-00000016`;
  const missing = `s3://${env.s3.bucket}/runs/${runA}/checkpoints/step-00009999`;
  const runsBefore = await env.db.run.count();
  const rowsBefore = await env.db.checkpoint.count();
  for (const uri of [`${dir}/model.safetensors`, dir, `${missing}/model.safetensors`]) {
    for (const validateOnly of [false, true]) {
      const r = await submit(b.auth, uri, { validateOnly });
      assert.equal(r.statusCode, 400, `${uri}: ${r.body}`);
      assert.equal(r.json().message, `source uri ${uri} is not a checkpoint of any of your team's runs`);
    }
  }
  // another file of A's checkpoint, and A's state.json: outside anything B may import
  const state = await submit(b.auth, `${dir}/state.json`);
  assert.equal(state.statusCode, 400);
  assert.match(state.json().message, /^body\/source\/uri must be a \.safetensors file in your team's import area/);
  assert.equal(await env.db.run.count(), runsBefore);
  assert.equal(await env.db.checkpoint.count(), rowsBefore);

  // team A names its own checkpoint by the same address: it resolves to that checkpoint's row
  const own = await submit(a.auth, `${dir}/model.safetensors`);
  assert.equal(own.statusCode, 201, own.body);
  assert.deepEqual(own.json().source, { checkpointId: checkpointA, runId: runA, step: 16, uri: dir });
  assert.equal(await env.db.checkpoint.count(), rowsBefore, 'no import row is made for a run checkpoint');
  const d = await env.app.inject({ method: 'GET', url: `/v1/runs/${own.json().id}/checkpoints/${checkpointA}/download`, headers: a.auth });
  assert.equal(d.statusCode, 200, d.body);
  assert.ok(Buffer.from(await (await fetch(d.json().url)).arrayBuffer()).equals(weightsA));
});

test("team B cannot name a file in team A's import area, whether or not it exists; nor any other key", async () => {
  const keyA = `imports/${a.teamId}/u1/secret.safetensors`;
  await env.s3.client.send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: keyA, Body: randomBytes(1000) }));
  const messages = new Set<string>();
  for (const key of [
    keyA,
    `imports/${a.teamId}/u1/absent.safetensors`,
    'models/shared.safetensors',
    `imports/${b.teamId}`,
    `imports/${b.teamId}/x.bin`,
  ]) {
    const uri = `s3://${env.s3.bucket}/${key}`;
    const r = await submit(b.auth, uri);
    assert.equal(r.statusCode, 400, r.body);
    messages.add(r.json().message.replace(`got "${uri}"`, 'got "<uri>"'));
  }
  assert.equal(messages.size, 1, [...messages].join('\n'));
  assert.equal(
    [...messages][0],
    `body/source/uri must be a .safetensors file in your team's import area s3://${env.s3.bucket}/imports/${b.teamId}/… (upload with POST /v1/imports) ` +
      `or a checkpoint of one of your runs (s3://${env.s3.bucket}/runs/<run>/checkpoints/<id>), got "<uri>"`,
  );
  // A may use its own import
  const own = await submit(a.auth, `s3://${env.s3.bucket}/${keyA}`);
  assert.equal(own.statusCode, 201, own.body);
  assert.equal(own.json().source.runId, null);
});

test('POST /v1/imports: a presigned PUT into the own import area, then a finetune from it, pinned and downloadable', async () => {
  const weights = randomBytes(20_000);
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/imports',
    headers: b.auth,
    payload: { name: 'vit-b16.safetensors', bytes: weights.length },
  });
  assert.equal(r.statusCode, 201, r.body);
  const up = r.json();
  assert.match(up.uri, new RegExp(`^s3://${env.s3.bucket}/imports/${b.teamId}/[0-9a-f-]{36}/vit-b16\\.safetensors$`));
  assert.equal(up.method, 'PUT');
  assert.equal(up.bytes, 20_000);
  assert.deepEqual(up.headers, { 'content-length': '20000' });
  assert.ok(Date.parse(up.expiresAt) > Date.now());

  // before the upload, the uri names nothing
  const early = await submit(b.auth, up.uri);
  assert.equal(early.statusCode, 400);
  assert.equal(early.json().message, `source uri ${up.uri} does not exist`);

  // content-length is among the signed headers, so S3 refuses a PUT of any other size (s3rver does
  // not check presigned signatures at all, so that refusal itself can't be shown here)
  assert.equal(new URL(up.uploadUrl).searchParams.get('X-Amz-SignedHeaders'), 'content-length;host');
  const put = await fetch(up.uploadUrl, { method: 'PUT', body: weights, headers: up.headers });
  assert.equal(put.status, 200, await put.text());

  const ft = await submit(b.auth, up.uri, { encoder: 'target' });
  assert.equal(ft.statusCode, 201, ft.body);
  const source = ft.json().source;
  assert.deepEqual([source.runId, source.step, source.uri], [null, 0, up.uri]);
  const row = await env.db.run.findUniqueOrThrow({ where: { id: ft.json().id } });
  assert.equal(row.sourceCheckpointId, source.checkpointId);
  assert.equal(row.status, 'QUEUED');
  const d = await env.app.inject({
    method: 'GET',
    url: `/v1/runs/${ft.json().id}/checkpoints/${source.checkpointId}/download`,
    headers: b.auth,
  });
  assert.equal(d.statusCode, 200, d.body);
  assert.deepEqual([d.json().file, d.json().bytes], ['vit-b16.safetensors', 20_000]);
  assert.ok(Buffer.from(await (await fetch(d.json().url)).arrayBuffer()).equals(weights));

  // A cannot use B's upload
  const stolen = await submit(a.auth, up.uri);
  assert.equal(stolen.statusCode, 400);
  assert.match(stolen.json().message, /^body\/source\/uri must be a \.safetensors file in your team's import area/);
});

test('POST /v1/imports refuses bad names, sizes and team-less tokens', async () => {
  const cases: [object, { authorization: string }, number, RegExp][] = [
    [{ name: '../x.safetensors', bytes: 10 }, b.auth, 400, /body\/name must match pattern/],
    [{ name: 'x.bin', bytes: 10 }, b.auth, 400, /body\/name must match pattern/],
    [{ name: 'a/b.safetensors', bytes: 10 }, b.auth, 400, /body\/name must match pattern/],
    [{ name: 'x.safetensors', bytes: 0 }, b.auth, 400, /body\/bytes must be >= 1/],
    [{ name: 'x.safetensors', bytes: 6 * 1024 ** 3 }, b.auth, 400, /body\/bytes must be <= 5368709120/],
    [{ name: 'x.safetensors', bytes: 10 }, bearer(env.adminToken), 403, /^imports belong to a team/],
  ];
  for (const [payload, headers, status, message] of cases) {
    const r = await env.app.inject({ method: 'POST', url: '/v1/imports', headers, payload });
    assert.equal(r.statusCode, status, `${JSON.stringify(payload)}: ${r.body}`);
    assert.match(r.json().message, message);
  }
});
