// Two teams on the whole service (API, controller and a worker as processes; PostgreSQL, Redis,
// s3rver): team A uploads weights to its import area, keeps labelled images in its S3 data area
// and fine-tunes on them to a held-out top-1 far above chance, then evaluates the result on the
// same images in its disk area; team B, on the same stack, can
// neither import A's weights nor read A's images, on disk or in S3, and its failed runs say
// nothing about A's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, symlink } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CimViT, cimVitMicroPatch4 } from '@cim-forge/cim';
import { initTestBackend } from '@cim-forge/cim/testing';
import { imageFolderFiles, writeImageFolder } from '@cim-forge/data/testing';
import { modelToSafetensors } from '@cim-forge/engine';
import { createS3Client } from '@cim-forge/storage';
import { type TempDatabase } from '@cim-forge/db/testing';
import { type Stack } from './stack.ts';
import { closeTestStack, startTestStack } from './test-stack.ts';

let db: TempDatabase;
let dir: string;
let stack: Stack;
const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
const log: string[] = [];

before(async () => {
  ({ db, dir, stack } = await startTestStack({
    name: 'tenant',
    workers: 1,
    adminToken,
    log,
    env: (d) => {
      mkdirSync(join(d, 'data'));
      return { CIM_DATA_ROOT: join(d, 'data'), CIM_DATA_CACHE: join(d, 'cache') };
    },
  }));
});
after(() => closeTestStack({ db, dir, stack }));

/** the fields of the API's answers this test reads */
interface Body {
  id: string;
  token: string;
  uri: string;
  uploadUrl: string;
  headers: Record<string, string>;
  status: string;
  error: string;
  config: Record<string, unknown>;
  points: { value: number }[];
  infraRestarts: number;
  userRestarts: number;
}

async function call(token: string, path: string, body?: object): Promise<{ status: number; json: Body }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Body };
}

async function team(name: string): Promise<{ id: string; token: string }> {
  const t = await call(adminToken, '/v1/teams', { name });
  const k = await call(adminToken, '/v1/tokens', { teamId: t.json.id });
  return { id: t.json.id, token: k.json.token };
}

async function waitFor(token: string, runId: string, timeoutMs: number): Promise<Body> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await call(token, `/v1/runs/${runId}`)).json;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status)) return r;
    assert.ok(Date.now() < deadline, `run ${runId} still ${r.status} after ${timeoutMs} ms\n${log.slice(-30).join('\n')}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/** a small CIM checkpoint, as a team would bring it: uploaded through POST /v1/imports */
async function importWeights(token: string): Promise<string> {
  await initTestBackend();
  const cim = new CimViT(cimVitMicroPatch4({ embedDim: 32, depth: 1, numHeads: 2, decoderEmbedDim: 32, decoderNumHeads: 2 }), 5);
  const bytes = await modelToSafetensors(cim);
  cim.dispose();
  const up = await call(token, '/v1/imports', { name: 'cim-micro.safetensors', bytes: bytes.length });
  assert.equal(up.status, 201, JSON.stringify(up.json));
  const put = await fetch(up.json.uploadUrl, { method: 'PUT', body: Buffer.from(bytes) as unknown as BodyInit, headers: up.json.headers });
  assert.equal(put.status, 200);
  return up.json.uri;
}

const recipe = {
  epochs: 3,
  warmupEpochs: 0.5,
  batchSize: 16,
  baseLr: 0.16,
  layerDecay: 1,
  dropPath: 0,
  mixup: 0,
  cutmix: 0,
  reprob: 0,
  randAugment: null,
  labelSmoothing: 0,
};

test(
  'team A fine-tunes its imported weights on its own S3 images and evaluates on its disk area; team B can reach neither',
  { timeout: 600_000 },
  async () => {
    const a = await team('alpha');
    const b = await team('beta');
    const files = await imageFolderFiles(40);
    const s3 = createS3Client({
      endpoint: stack.s3Endpoint,
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    });
    for (const [key, body] of files)
      await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `data/${a.id}/colours/${key}`, Body: body }));
    s3.destroy();
    // A's images on disk too; B's area holds a symlink into A's
    await writeImageFolder(join(dir, 'data', a.id, 'colours'), files);
    await mkdir(join(dir, 'data', b.id), { recursive: true });
    await symlink(join(dir, 'data', a.id), join(dir, 'data', b.id, 'escape'));

    const weightsA = await importWeights(a.token);
    const ftA = await call(a.token, '/v1/runs', {
      kind: 'finetune',
      preset: 'smoke',
      source: { uri: weightsA },
      config: { ...recipe, dataset: { kind: 'image-folder', root: 'colours', store: 's3' } },
    });
    assert.equal(ftA.status, 201, JSON.stringify(ftA.json));
    assert.deepEqual(ftA.json.config.evalDataset, { kind: 'image-folder', root: 'colours', store: 's3', split: 'val' });

    // B: A's weights by uri are refused at submission
    const stolen = await call(b.token, '/v1/runs', { kind: 'finetune', preset: 'smoke', source: { uri: weightsA } });
    assert.equal(stolen.status, 400);
    // B's own weights on "colours" (its own, empty, S3 folder) and on a disk symlink into A's area
    const weightsB = await importWeights(b.token);
    const s3B = await call(b.token, '/v1/runs', {
      kind: 'finetune',
      preset: 'smoke',
      source: { uri: weightsB },
      config: { ...recipe, dataset: { kind: 'image-folder', root: 'colours', store: 's3' } },
    });
    const diskB = await call(b.token, '/v1/runs', {
      kind: 'finetune',
      preset: 'smoke',
      source: { uri: weightsB },
      config: { ...recipe, dataset: { kind: 'image-folder', root: 'escape/colours' } },
    });
    assert.equal(s3B.status, 201);
    assert.equal(diskB.status, 201);

    const doneA = await waitFor(a.token, ftA.json.id, 300_000);
    assert.equal(doneA.status, 'SUCCEEDED', `${doneA.error}\n${log.slice(-40).join('\n')}`);
    const top1 = (await call(a.token, `/v1/runs/${ftA.json.id}/metrics?name=eval_top1`)).json;
    const last = top1.points.at(-1)!.value;
    assert.ok(last >= 0.75, `held-out top-1 ${last} (chance 0.33)`);

    // an eval of A's fine-tuned classifier on the held-out part of the same images, from A's disk area
    const evA = await call(a.token, '/v1/runs', {
      kind: 'eval',
      preset: 'smoke',
      source: { runId: ftA.json.id, checkpoint: 'latest' },
      config: { dataset: { kind: 'image-folder', root: 'colours' }, eps: 0, pgdSteps: 0, corruptions: [] },
    });
    assert.equal(evA.status, 201, JSON.stringify(evA.json));
    const doneEv = await waitFor(a.token, evA.json.id, 300_000);
    assert.equal(doneEv.status, 'SUCCEEDED', `${doneEv.error}\n${log.slice(-40).join('\n')}`);
    const clean = (await call(a.token, `/v1/runs/${evA.json.id}/metrics?name=clean_top1`)).json.points.at(-1)!.value;
    assert.equal(clean, last, 'the eval scores the same held-out images the fine-tune did');
    // and B can't evaluate A's fine-tune, by id or by address
    const evB = await call(b.token, '/v1/runs', { kind: 'eval', preset: 'smoke', source: { runId: ftA.json.id, checkpoint: 'latest' } });
    assert.equal(evB.status, 400);
    assert.equal(evB.json.error, 'Bad Request');

    const failedS3 = await waitFor(b.token, s3B.json.id, 120_000);
    assert.equal(failedS3.status, 'FAILED');
    assert.match(failedS3.error, /image folder s3:colours has no objects in your data area/);
    const failedDisk = await waitFor(b.token, diskB.json.id, 120_000);
    assert.equal(failedDisk.status, 'FAILED');
    assert.match(failedDisk.error, /image folder data:escape\/colours is not a directory in the data area/);
    for (const e of [failedS3.error, failedDisk.error]) {
      assert.ok(!e.includes(a.id) && !e.includes(dir), `the error names nothing of A's or of the worker's disk: ${e}`);
    }
    // the run's own fault: no restarts were spent on either
    for (const r of [failedS3, failedDisk]) assert.deepEqual([r.infraRestarts, r.userRestarts], [0, 0], JSON.stringify(r));
  },
);
