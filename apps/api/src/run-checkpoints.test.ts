import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3CheckpointStore, sha256Hex, type CheckpointManifest } from '@cim-forge/storage';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let teamId: string;
let runId: string;
let manifest: CheckpointManifest;
const model = randomBytes(300_000);
const state = Buffer.from(JSON.stringify({ step: 16, epoch: 0 }));
/** COMPLETE step 8 (loss 0.2, the best), COMPLETE step 16 (the latest, with files in S3), PENDING step 24 */
const ids: Record<8 | 16 | 24, string> = { 8: '', 16: '', 24: '' };

before(async () => {
  env = await startApiTestEnv();
  ({ auth, teamId } = await env.team());
  const r = await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } });
  runId = r.json().id;
  const store = new S3CheckpointStore({ client: env.s3.client, bucket: env.s3.bucket, prefix: `runs/${runId}/checkpoints` });
  manifest = await store.write('step-00000016', 16, { 'model.safetensors': model, 'state.json': state });
  for (const [step, loss, status] of [
    [8, 0.2, 'COMPLETE'],
    [16, 0.5, 'COMPLETE'],
    [24, 0.4, 'PENDING'],
  ] as const) {
    const row = await env.db.checkpoint.create({
      data: {
        runId,
        uri: store.uri(`step-${String(step).padStart(8, '0')}`),
        step,
        status,
        metrics: { loss },
        manifestDigest: status === 'COMPLETE' ? sha256Hex(Buffer.from(JSON.stringify(manifest))) : null,
        completedAt: status === 'COMPLETE' ? new Date() : null,
      },
    });
    ids[step] = row.id;
  }
});
after(async () => {
  await env?.close();
});

test('checkpoint uri is the store directory s3://bucket/runs/<run>/checkpoints/<id>', async () => {
  const row = await env.db.checkpoint.findUniqueOrThrow({ where: { id: ids[16] } });
  assert.equal(row.uri, `s3://${env.s3.bucket}/runs/${runId}/checkpoints/step-00000016`);
});

test('GET checkpoints: COMPLETE only by step; all=true adds the PENDING one', async () => {
  const r = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/checkpoints`, headers: auth });
  assert.equal(r.statusCode, 200);
  const list = r.json().checkpoints;
  assert.deepEqual(
    list.map((c: { step: number }) => c.step),
    [8, 16],
  );
  assert.deepEqual(list[1].metrics, { loss: 0.5 });
  assert.equal(list[1].status, 'COMPLETE');
  const all = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/checkpoints?all=true`, headers: auth });
  assert.deepEqual(
    all.json().checkpoints.map((c: { step: number; status: string }) => `${c.step}:${c.status}`),
    ['8:COMPLETE', '16:COMPLETE', '24:PENDING'],
  );
});

test('download: a presigned URL whose bytes match the manifest sha256; other files and errors', async () => {
  const r = await env.app.inject({
    method: 'GET',
    url: `/v1/runs/${runId}/checkpoints/${ids[16]}/download?file=model.safetensors`,
    headers: auth,
  });
  assert.equal(r.statusCode, 200, r.body);
  const d = r.json();
  assert.equal(d.file, 'model.safetensors');
  assert.equal(d.bytes, 300_000);
  assert.equal(d.sha256, manifest.files['model.safetensors'].sha256);
  const expiresIn = Date.parse(d.expiresAt) - Date.now();
  assert.ok(expiresIn > 890_000 && expiresIn <= 900_000, String(expiresIn));
  const res = await fetch(d.url);
  assert.equal(res.status, 200);
  const got = new Uint8Array(await res.arrayBuffer());
  assert.equal(got.byteLength, model.byteLength);
  assert.equal(sha256Hex(got), d.sha256);
  assert.ok(Buffer.from(got).equals(model));

  const dflt = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/checkpoints/${ids[16]}/download`, headers: auth });
  assert.equal(dflt.json().file, 'model.safetensors');
  const st = await env.app.inject({
    method: 'GET',
    url: `/v1/runs/${runId}/checkpoints/${ids[16]}/download?file=state.json`,
    headers: auth,
  });
  const stBytes = Buffer.from(await (await fetch(st.json().url)).arrayBuffer());
  assert.ok(stBytes.equals(state));

  const missing = await env.app.inject({
    method: 'GET',
    url: `/v1/runs/${runId}/checkpoints/${ids[16]}/download?file=optimizer.bin`,
    headers: auth,
  });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json().message, `checkpoint ${ids[16]} has no file optimizer.bin; it has: model.safetensors, state.json`);

  const pending = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/checkpoints/${ids[24]}/download`, headers: auth });
  assert.equal(pending.statusCode, 409);
  assert.equal(pending.json().message, `checkpoint ${ids[24]} is PENDING; only COMPLETE checkpoints can be downloaded`);

  const noManifest = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/checkpoints/${ids[8]}/download`, headers: auth });
  assert.equal(noManifest.statusCode, 404);
  assert.match(noManifest.json().message, /has no manifest at s3:\/\//);
});

test('finetune source: latest, best and an id resolve as documented (validateOnly writes nothing)', async () => {
  const validate = (source: object, extra: object = {}) =>
    env.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: auth,
      payload: { kind: 'finetune', preset: 'smoke', validateOnly: true, source, ...extra },
    });
  const runs = await env.db.run.count();

  const latest = await validate({ runId, checkpoint: 'latest' }, { encoder: 'target' });
  assert.equal(latest.statusCode, 200, latest.body);
  assert.deepEqual(latest.json().source, {
    checkpointId: ids[16],
    runId,
    step: 16,
    uri: `s3://${env.s3.bucket}/runs/${runId}/checkpoints/step-00000016`,
    encoder: 'target',
  });
  assert.equal(latest.json().config.encoder, 'target');
  assert.equal(latest.json().config.initFrom, null);
  assert.equal(latest.json().config.epochs, 1);

  const best = await validate({ runId, checkpoint: 'best' });
  assert.equal(best.json().source.checkpointId, ids[8]);
  assert.equal(best.json().source.step, 8);
  assert.equal(best.json().source.encoder, 'online');

  const byId = await validate({ runId, checkpoint: ids[8] });
  assert.equal(byId.json().source.checkpointId, ids[8]);
  const pending = await validate({ runId, checkpoint: ids[24] });
  assert.equal(pending.statusCode, 400);
  assert.equal(pending.json().message, `checkpoint ${ids[24]} is not a COMPLETE checkpoint of run ${runId}`);
  assert.equal(await env.db.run.count(), runs);
});

test('a created finetune pins its source checkpoint and can download it', async () => {
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: { kind: 'finetune', preset: 'smoke', source: { runId, checkpoint: 'latest' } },
  });
  assert.equal(r.statusCode, 201, r.body);
  const ft = r.json();
  assert.deepEqual(ft.source, {
    checkpointId: ids[16],
    runId,
    step: 16,
    uri: `s3://${env.s3.bucket}/runs/${runId}/checkpoints/step-00000016`,
  });
  const row = await env.db.run.findUniqueOrThrow({ where: { id: ft.id } });
  assert.equal(row.sourceCheckpointId, ids[16]);
  assert.equal((row.config as { encoder: string }).encoder, 'online');

  const d = await env.app.inject({ method: 'GET', url: `/v1/runs/${ft.id}/checkpoints/${ids[16]}/download`, headers: auth });
  assert.equal(d.statusCode, 200);
  assert.equal(d.json().sha256, manifest.files['model.safetensors'].sha256);
  // a checkpoint that is neither the run's nor its source
  const other = await env.app.inject({ method: 'GET', url: `/v1/runs/${ft.id}/checkpoints/${ids[8]}/download`, headers: auth });
  assert.equal(other.statusCode, 404);
});

test("an imported s3 uri source in the team's import area: checked with HeadObject, one checkpoint row reused, downloadable as is", async () => {
  const weights = randomBytes(4096);
  const key = `imports/${teamId}/u1/official-vit-b.safetensors`;
  await env.s3.client.send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: key, Body: weights }));
  const uri = `s3://${env.s3.bucket}/${key}`;
  const submit = () =>
    env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'eval', preset: 'smoke', source: { uri } } });

  const dry = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: { kind: 'eval', source: { uri }, validateOnly: true },
  });
  assert.equal(dry.statusCode, 200);
  assert.deepEqual(dry.json().source, { checkpointId: null, runId: null, step: 0, uri });
  assert.equal(await env.db.checkpoint.count({ where: { uri } }), 0);

  const a = await submit();
  const b = await submit();
  assert.equal(a.statusCode, 201, a.body);
  assert.equal(b.statusCode, 201);
  assert.equal(a.json().config.images, 128);
  const rows = await env.db.checkpoint.findMany({ where: { uri } });
  assert.equal(rows.length, 1);
  assert.deepEqual([rows[0].runId, rows[0].step, rows[0].status], [null, 0, 'COMPLETE']);
  assert.equal(a.json().source.checkpointId, rows[0].id);
  assert.equal(b.json().source.checkpointId, rows[0].id);

  const d = await env.app.inject({ method: 'GET', url: `/v1/runs/${a.json().id}/checkpoints/${rows[0].id}/download`, headers: auth });
  assert.equal(d.statusCode, 200, d.body);
  assert.deepEqual([d.json().file, d.json().sha256, d.json().bytes], ['official-vit-b.safetensors', null, 4096]);
  const got = Buffer.from(await (await fetch(d.json().url)).arrayBuffer());
  assert.ok(got.equals(weights));
});
