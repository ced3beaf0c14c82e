/**
 * Per-team caps on imports and their cleanup, and the per-run cap on uploaded figures as a setting
 * (issue 24), on real PostgreSQL, Redis and s3rver:
 * - concurrent POST /v1/imports against a count cap of k: exactly k reservations, the rest 409 with the reason;
 * - a byte cap: an import that would pass it is 409 and leaves no row and no object; concurrent ones stop at the cap;
 * - an upload that was killed half-way, or left a partial object, is swept once its URL expired (row and
 *   objects gone, the slot free again); a whole upload becomes `stored` and stays counted until deleted;
 * - DELETE /v1/imports/:id frees a slot, only for the own team, not while the URL may still be used;
 * - CIM_FIGURE_UPLOADS_PER_RUN replaces the fixed 10 pending uploaded figures per run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { importPrefix } from '@cim-forge/storage';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
/** short URLs, no grace, the API's own sweep every 200 ms */
let sweepEnv: ApiTestEnv;

before(async () => {
  env = await startApiTestEnv({ importLimits: { count: 3, bytes: 100_000 }, importSweepEveryMs: 0, figureUploadsPerRun: 3 });
  sweepEnv = await startApiTestEnv({
    importLimits: { count: 3, bytes: 10_000_000 },
    presignSeconds: 1,
    importSweepGraceMs: 0,
    importSweepEveryMs: 200,
  });
});
after(async () => {
  await env?.close();
  await sweepEnv?.close();
});

const reserve = (e: ApiTestEnv, auth: { authorization: string }, bytes: number, name = 'w.safetensors') =>
  e.app.inject({ method: 'POST', url: '/v1/imports', headers: auth, payload: { name, bytes } });

async function objectsUnder(e: ApiTestEnv, prefix: string): Promise<{ key: string; size: number }[]> {
  const r = await e.s3.client.send(new ListObjectsV2Command({ Bucket: e.s3.bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? -1 }));
}

test('10 concurrent imports against a cap of 3: exactly 3 reserved, 7 × 409 naming the cap', async () => {
  const t = await env.team();
  const answers = await Promise.all(Array.from({ length: 10 }, () => reserve(env, t.auth, 1000)));
  const codes = answers.map((r) => r.statusCode);
  assert.equal(codes.filter((c) => c === 201).length, 3, codes.join(','));
  assert.equal(codes.filter((c) => c === 409).length, 7, codes.join(','));
  for (const r of answers.filter((a) => a.statusCode === 409)) {
    assert.match(
      r.json().message,
      /^this team holds 3 imports, its cap is 3 \(CIM_IMPORTS_PER_TEAM\): delete one with DELETE \/v1\/imports\/:id/,
    );
  }
  assert.equal(await env.db.importUpload.count({ where: { teamId: t.teamId } }), 3);
  const ids = answers.filter((a) => a.statusCode === 201).map((a) => a.json().id as string);
  assert.deepEqual((await env.db.importUpload.findMany({ where: { teamId: t.teamId } })).map((r) => r.id).sort(), [...ids].sort());

  // another team has caps of its own
  const other = await env.team();
  assert.equal((await reserve(env, other.auth, 1000)).statusCode, 201);
});

test('the byte cap: 409 with the reason, no row and no object; concurrent imports stop at the cap', async () => {
  const t = await env.team();
  const first = await reserve(env, t.auth, 60_000);
  assert.equal(first.statusCode, 201, first.body);
  const put = await fetch(first.json().uploadUrl, { method: 'PUT', body: randomBytes(60_000), headers: first.json().headers });
  assert.equal(put.status, 200);

  const over = await reserve(env, t.auth, 50_000, 'big.safetensors');
  assert.equal(over.statusCode, 409, over.body);
  assert.equal(
    over.json().message,
    "this team's imports hold 60000 bytes; 50000 bytes more would pass its cap of " +
      '100000 bytes (CIM_IMPORT_MIB_PER_TEAM): delete one with DELETE /v1/imports/:id',
  );
  assert.equal(await env.db.importUpload.count({ where: { teamId: t.teamId } }), 1, 'no row for the refused import');
  const objects = await objectsUnder(env, importPrefix(t.teamId));
  assert.deepEqual(
    objects,
    [{ key: `imports/${t.teamId}/${first.json().id}/w.safetensors`, size: 60_000 }],
    'nothing written for the refused one',
  );

  // 40 000 bytes left: of 5 concurrent 15 000-byte imports exactly 2 fit
  const t2 = await env.team();
  assert.equal((await reserve(env, t2.auth, 60_000)).statusCode, 201);
  const codes = (await Promise.all(Array.from({ length: 5 }, () => reserve(env, t2.auth, 15_000)))).map((r) => r.statusCode);
  assert.deepEqual([codes.filter((c) => c === 201).length, codes.filter((c) => c === 409).length], [2, 3], codes.join(','));
  const [{ sum }] = await env.db.$queryRaw<
    { sum: bigint }[]
  >`SELECT sum(bytes)::bigint AS sum FROM import_uploads WHERE team_id = ${t2.teamId}::uuid`;
  assert.equal(Number(sum), 90_000);
});

/** starts a PUT of `bytes` to the URL, sends half of them and kills the connection */
function killedPut(url: string, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      method: 'PUT',
      headers: { 'content-length': bytes },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(randomBytes(Math.floor(bytes / 2)), () => setTimeout(() => req.destroy(), 50));
  });
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('killed and partial uploads are swept once their URL expired; a whole one is kept as stored; the slots come back', async () => {
  const e = sweepEnv;
  const t = await e.team();
  const [whole, killed, partial] = await Promise.all([reserve(e, t.auth, 20_000), reserve(e, t.auth, 30_000), reserve(e, t.auth, 40_000)]);
  for (const r of [whole, killed, partial]) assert.equal(r.statusCode, 201, r.body);
  assert.equal((await reserve(e, t.auth, 1000)).statusCode, 409, 'the cap of 3 is reached');

  const ok = await fetch(whole.json().uploadUrl, { method: 'PUT', body: randomBytes(20_000), headers: whole.json().headers });
  assert.equal(ok.status, 200);
  await killedPut(killed.json().uploadUrl, 30_000);
  // what a broken client or a multipart upload can leave: a short object at the key and a stray one beside it
  const partialKey = new URL(partial.json().uri).pathname.slice(1);
  await e.s3.client.send(new PutObjectCommand({ Bucket: e.s3.bucket, Key: partialKey, Body: randomBytes(12_345) }));
  await e.s3.client.send(
    new PutObjectCommand({ Bucket: e.s3.bucket, Key: `imports/${t.teamId}/${partial.json().id}/part-2`, Body: randomBytes(10) }),
  );
  assert.equal((await objectsUnder(e, `imports/${t.teamId}/${partial.json().id}/`)).length, 2);

  // the API's own sweep (every 200 ms), once the 1 s URLs have expired
  await until('the sweep', async () => (await e.db.importUpload.count({ where: { teamId: t.teamId, status: 'pending' } })) === 0);
  const rows = await e.db.importUpload.findMany({ where: { teamId: t.teamId } });
  assert.deepEqual(
    rows.map((r) => [r.id, r.status, Number(r.bytes)]),
    [[whole.json().id, 'stored', 20_000]],
  );
  assert.ok(rows[0]!.storedAt instanceof Date);
  assert.deepEqual(await objectsUnder(e, `imports/${t.teamId}/${killed.json().id}/`), []);
  assert.deepEqual(await objectsUnder(e, `imports/${t.teamId}/${partial.json().id}/`), []);
  assert.deepEqual(
    (await objectsUnder(e, importPrefix(t.teamId))).map((o) => o.size),
    [20_000],
  );

  // two slots are free again; the third is refused while the stored one is held
  const again = await Promise.all([reserve(e, t.auth, 1000), reserve(e, t.auth, 1000), reserve(e, t.auth, 1000)]);
  assert.deepEqual(again.map((r) => r.statusCode).sort(), [201, 201, 409]);
});

test('DELETE /v1/imports/:id: own team only, not while the URL is valid, then object and row are gone', async () => {
  const e = sweepEnv;
  const t = await e.team();
  const other = await e.team();
  const up = (await reserve(e, t.auth, 5000)).json();
  const early = await e.app.inject({ method: 'DELETE', url: `/v1/imports/${up.id}`, headers: t.auth });
  assert.equal(early.statusCode, 409, early.body);
  assert.match(early.json().message, new RegExp(`^import ${up.id}'s upload URL is valid until `));
  assert.equal((await fetch(up.uploadUrl, { method: 'PUT', body: randomBytes(5000), headers: up.headers })).status, 200);
  await new Promise((r) => setTimeout(r, 1100));

  const stolen = await e.app.inject({ method: 'DELETE', url: `/v1/imports/${up.id}`, headers: other.auth });
  assert.equal(stolen.statusCode, 404);
  assert.equal(stolen.json().message, `import ${up.id} not found`);
  assert.equal((await objectsUnder(e, importPrefix(t.teamId))).length, 1, "another team's DELETE removed nothing");

  const del = await e.app.inject({ method: 'DELETE', url: `/v1/imports/${up.id}`, headers: t.auth });
  assert.equal(del.statusCode, 204, del.body);
  assert.deepEqual(await objectsUnder(e, importPrefix(t.teamId)), []);
  assert.equal(await e.db.importUpload.count({ where: { teamId: t.teamId } }), 0);
  assert.equal((await e.app.inject({ method: 'DELETE', url: `/v1/imports/${up.id}`, headers: t.auth })).statusCode, 404);
});

test('CIM_FIGURE_UPLOADS_PER_RUN: with 3, 8 concurrent uploads give 3 × 202 and 5 × 409', async () => {
  const t = await env.team();
  const runId = (
    await env.app.inject({ method: 'POST', url: '/v1/runs', headers: t.auth, payload: { kind: 'pretrain', preset: 'smoke' } })
  ).json().id as string;
  await env.db.checkpoint.create({
    data: {
      runId,
      uri: `s3://${env.s3.bucket}/runs/${runId}/checkpoints/step-00000004`,
      step: 4,
      status: 'COMPLETE',
      completedAt: new Date(),
    },
  });
  const png = await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 9, g: 99, b: 199 } } })
    .png()
    .toBuffer();
  const answers = await Promise.all(
    Array.from({ length: 8 }, () =>
      env.app.inject({
        method: 'POST',
        url: `/v1/runs/${runId}/figures`,
        headers: t.auth,
        payload: { checkpoint: 'latest', image: png.toString('base64') },
      }),
    ),
  );
  const codes = answers.map((r) => r.statusCode);
  assert.deepEqual([codes.filter((c) => c === 202).length, codes.filter((c) => c === 409).length], [3, 5], codes.join(','));
  for (const r of answers.filter((a) => a.statusCode === 409))
    assert.match(r.json().message, new RegExp(`^run ${runId} already has 3 uploaded figures waiting to be drawn`));
  assert.equal(await env.db.figure.count({ where: { runId } }), 3);
});
