import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import sharp from 'sharp';
import { FIGURES_QUEUE, redisConnection } from '@cim-forge/queue';
import { figurePngKey } from '@cim-forge/storage';
import { MAX_UPLOAD_BYTES } from './figures/upload-image.ts';
import { redisUrl, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let runId: string;
let complete: string;
let pending: string;
let png: Buffer;

const post = (id: string, payload: unknown, headers = auth) =>
  env.app.inject({ method: 'POST', url: `/v1/runs/${id}/figures`, headers, payload: payload as object });

before(async () => {
  env = await startApiTestEnv();
  ({ auth } = await env.team());
  runId = (await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })).json()
    .id;
  complete = (
    await env.db.checkpoint.create({
      data: {
        runId,
        uri: `s3://${env.s3.bucket}/runs/${runId}/checkpoints/step-00000008`,
        step: 8,
        status: 'COMPLETE',
        completedAt: new Date(),
      },
    })
  ).id;
  pending = (
    await env.db.checkpoint.create({
      data: { runId, uri: `s3://${env.s3.bucket}/runs/${runId}/checkpoints/step-00000016`, step: 16, status: 'PENDING' },
    })
  ).id;
  png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    .png()
    .toBuffer();
});
after(async () => {
  await env?.close();
});

test('POST figures: 202 pending; the image is stored, the row made at the latest COMPLETE checkpoint, a job queued', async () => {
  const r = await post(runId, { checkpoint: 'latest', image: png.toString('base64') });
  assert.equal(r.statusCode, 202, r.body);
  const { id, status } = r.json();
  assert.equal(status, 'pending');
  const row = await env.db.figure.findUniqueOrThrow({ where: { id } });
  assert.deepEqual([row.runId, row.checkpointId, row.step, row.source, row.status], [runId, complete, 8, 'upload', 'pending']);
  const stored = await env.s3.client.send(new GetObjectCommand({ Bucket: env.s3.bucket, Key: row.inputKey! }));
  assert.ok(Buffer.from(await stored.Body!.transformToByteArray()).equals(png));
  assert.equal(row.inputKey, `runs/${runId}/figures/${id}.input.png`);
  const q = new Queue(FIGURES_QUEUE, { connection: redisConnection(redisUrl), prefix: env.prefix });
  try {
    const job = await q.getJob(`figure-${id}`);
    assert.deepEqual(job?.data, { figureId: id });
  } finally {
    await q.close();
  }
  const list = (await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/figures`, headers: auth })).json().items;
  assert.deepEqual(
    list.map((f: { id: string; status: string; url?: string }) => [f.id, f.status, f.url]),
    [[id, 'pending', undefined]],
  );
  // a data: URL and an explicit checkpoint id work too
  const d = await post(runId, { checkpoint: complete, image: `data:image/png;base64,${png.toString('base64')}` });
  assert.equal(d.statusCode, 202, d.body);
});

test('a ready figure is listed with a presigned URL of its PNG and its size', async () => {
  const row = await env.db.figure.create({
    data: {
      runId,
      checkpointId: complete,
      step: 8,
      source: 'heldout',
      status: 'ready',
      width: 40,
      height: 30,
      key: figurePngKey(runId, 'x'),
    },
  });
  await env.s3.client.send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: row.key!, Body: png, ContentType: 'image/png' }));
  const list = (await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/figures`, headers: auth })).json().items;
  const f = list.find((x: { id: string }) => x.id === row.id);
  assert.deepEqual([f.source, f.status, f.step, f.checkpointId, f.width, f.height], ['heldout', 'ready', 8, complete, 40, 30]);
  const got = Buffer.from(await (await fetch(f.url)).arrayBuffer());
  assert.ok(got.equals(png));
});

test('bad images are 400 with the reason, and nothing is stored', async () => {
  const before = await env.db.figure.count();
  const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'white' } })
    .png()
    .toBuffer();
  const cases: [unknown, RegExp][] = [
    ['!!!not base64!!!', /image is not base64$/],
    [Buffer.from('GIF89a....').toString('base64'), /must be a PNG or a JPEG/],
    [tiny.toString('base64'), /image is 8×8; each side must be in \[16, 8192\] px/],
    [png.subarray(0, png.length - 30).toString('base64'), /does not decode as a PNG/],
    [Buffer.concat([png, Buffer.alloc(MAX_UPLOAD_BYTES)]).toString('base64'), /larger than 2097152 bytes \(2 MiB\) decoded/],
  ];
  for (const [image, why] of cases) {
    const r = await post(runId, { checkpoint: 'latest', image });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().message, /^body\/image: /);
    assert.match(r.json().message, why);
  }
  const huge = await post(runId, { checkpoint: 'latest', image: 'A'.repeat(3_000_000) });
  assert.equal(huge.statusCode, 413);
  assert.match(huge.json().message, /larger than the 2861739-byte limit/);
  assert.equal((await post(runId, { checkpoint: 'latest' })).statusCode, 400);
  assert.equal((await post(runId, { checkpoint: 'newest', image: png.toString('base64') })).statusCode, 400);
  assert.equal(await env.db.figure.count(), before);
});

test('checkpoint refusals: PENDING 409, not this run 404, none yet 409, a fine-tune run 400', async () => {
  const p = await post(runId, { checkpoint: pending, image: png.toString('base64') });
  assert.equal(p.statusCode, 409);
  assert.match(p.json().message, /is PENDING/);
  assert.equal((await post(runId, { checkpoint: '00000000-0000-4000-8000-000000000000', image: png.toString('base64') })).statusCode, 404);
  const fresh = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json().id;
  const none = await post(fresh, { checkpoint: 'latest', image: png.toString('base64') });
  assert.equal(none.statusCode, 409);
  assert.match(none.json().message, /no COMPLETE checkpoint yet/);
  await env.db.run.update({ where: { id: fresh }, data: { kind: 'finetune' } });
  const ft = await post(fresh, { checkpoint: 'latest', image: png.toString('base64') });
  assert.equal(ft.statusCode, 400);
  assert.match(ft.json().message, /is a finetune run/);
});

test("another team's run is 404 for listing and uploading", async () => {
  const other = await env.team();
  assert.equal((await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/figures`, headers: other.auth })).statusCode, 404);
  assert.equal((await post(runId, { checkpoint: 'latest', image: png.toString('base64') }, other.auth)).statusCode, 404);
});

test("a figure outlives its checkpoint's retention: still listed, still downloadable", async () => {
  const cp = await env.db.checkpoint.create({
    data: {
      runId,
      uri: `s3://${env.s3.bucket}/runs/${runId}/checkpoints/step-00000024`,
      step: 24,
      status: 'COMPLETE',
      completedAt: new Date(),
    },
  });
  const row = await env.db.figure.create({
    data: {
      runId,
      checkpointId: cp.id,
      step: 24,
      source: 'heldout',
      status: 'ready',
      width: 40,
      height: 30,
      key: figurePngKey(runId, 'y'),
    },
  });
  await env.s3.client.send(new PutObjectCommand({ Bucket: env.s3.bucket, Key: row.key!, Body: png, ContentType: 'image/png' }));
  await env.db.checkpoint.delete({ where: { id: cp.id } });
  const list = (await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}/figures`, headers: auth })).json().items;
  const f = list.find((x: { id: string }) => x.id === row.id);
  assert.deepEqual([f.checkpointId, f.step, f.status], [cp.id, 24, 'ready']);
  assert.ok(Buffer.from(await (await fetch(f.url)).arrayBuffer()).equals(png));
});

test('uploads racing for the last pending slots: exactly 10 get one (a lock in the database), the rest 409 with the reason', async () => {
  const race = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json().id as string;
  await env.db.checkpoint.create({
    data: {
      runId: race,
      uri: `s3://${env.s3.bucket}/runs/${race}/checkpoints/step-00000004`,
      step: 4,
      status: 'COMPLETE',
      completedAt: new Date(),
    },
  });
  const image = png.toString('base64');
  const answers = await Promise.all(Array.from({ length: 24 }, () => post(race, { checkpoint: 'latest', image })));
  const codes = answers.map((r) => r.statusCode);
  assert.equal(codes.filter((c) => c === 202).length, 10, `answers ${codes.join(',')}`);
  assert.equal(codes.filter((c) => c === 409).length, 14, `answers ${codes.join(',')}`);
  for (const r of answers.filter((a) => a.statusCode === 409))
    assert.match(r.json().message, new RegExp(`^run ${race} already has 10 uploaded figures waiting to be drawn`));
  assert.equal(await env.db.figure.count({ where: { runId: race, source: 'upload', status: 'pending' } }), 10);
  assert.equal(await env.db.figure.count({ where: { runId: race } }), 10, 'no row for a refused upload');
});
