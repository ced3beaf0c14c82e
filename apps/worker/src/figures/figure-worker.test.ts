// The held-out figure runner on real PostgreSQL, Redis and s3rver, as the security review found it
// (issue 24, HIGH 1): two teams, CIM_DATA_ROOT inside the worker's working directory. A run's
// image folder is read from its own team's data area only, like a rank reads it: team B naming
// "<data root dir>/<team A>/flowers" gets a failed figure that names no path on the worker, and
// team A's own figure of "flowers" is drawn. The runner's environment is spelled out: a secret of
// the worker's never reaches it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCimModel } from '@cim-forge/cim';
import { initTestBackend } from '@cim-forge/cim/testing';
import { resolvePretrainConfig } from '@cim-forge/config';
import { imageFolderFiles, writeImageFolder } from '@cim-forge/data/testing';
import type { Figure } from '@cim-forge/db';
import { modelToSafetensors } from '@cim-forge/engine';
import { enqueueFigure, figuresQueue } from '@cim-forge/queue';
import { S3CheckpointStore } from '@cim-forge/storage';
import { startS3TestServer, type S3TestServer } from '@cim-forge/storage/testing';
import { startServiceFixture, type ServiceFixture } from '../testing/service-fixture.ts';
import { FigureWorker } from './figure-worker.ts';

const envDumpRunner = fileURLToPath(new URL('../testing/env-dump-figure-runner.ts', import.meta.url));

let fx: ServiceFixture;
let s3: S3TestServer;
/** inside the working directory of the worker (and so of its figure runners) */
let dir: string;
let dataRoot: string;
let modelBytes: Uint8Array;

before(async () => {
  s3 = await startS3TestServer();
  // the repository's (git-ignored) tmp/: a root the API takes (no dot folder) reaches it from the worker's cwd
  await mkdir(join(process.cwd(), 'tmp'), { recursive: true });
  dir = await mkdtemp(join(process.cwd(), 'tmp', 'cim-figure-test-'));
  dataRoot = join(dir, 'data');
  fx = await startServiceFixture({
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: 'us-east-1',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
    CIM_DATA_ROOT: dataRoot,
    CIM_DATA_CACHE: join(dir, 'cache'),
  });
  await initTestBackend();
  const smoke = resolvePretrainConfig('smoke');
  const model = createCimModel(smoke.model, smoke.modelOverrides, 0);
  modelBytes = await modelToSafetensors(model);
  model.dispose();
});
after(async () => {
  await fx?.close();
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** a pre-training of `teamId` on `root` with a COMPLETE checkpoint in S3 and a pending held-out figure of it */
async function figureOf(teamId: string, root: string): Promise<string> {
  const config = resolvePretrainConfig('smoke', { dataset: { kind: 'image-folder', root } });
  const run = await fx.db.run.create({ data: { teamId, kind: 'pretrain', config: config as object, worldSize: 1, status: 'RUNNING' } });
  const prefix = `runs/${run.id}/checkpoints`;
  await new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix }).write('step-00000002', 2, {
    'model.safetensors': modelBytes,
  });
  const ckpt = await fx.db.checkpoint.create({
    data: { runId: run.id, uri: `s3://${s3.bucket}/${prefix}/step-00000002`, step: 2, status: 'COMPLETE', completedAt: new Date() },
  });
  const fig = await fx.db.figure.create({ data: { runId: run.id, checkpointId: ckpt.id, step: 2, source: 'heldout' } });
  return fig.id;
}

async function settled(id: string, timeoutMs = 240_000): Promise<Figure> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = await fx.db.figure.findUniqueOrThrow({ where: { id } });
    if (f.status !== 'pending') return f;
    assert.ok(Date.now() < deadline, `figure ${id} still pending after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test(
  "team B cannot draw team A's images through a root relative to the worker's directory; A's own figure is drawn",
  { timeout: 600_000 },
  async () => {
    const teamA = fx.teamId;
    const teamB = (await fx.db.team.create({ data: { name: `b-${teamA.slice(0, 8)}` } })).id;
    await writeImageFolder(join(dataRoot, teamA, 'flowers'), await imageFolderFiles(2, 64));
    // the attack: the data root as seen from the worker's working directory, then A's area
    const stolenRoot = `${relative(process.cwd(), dataRoot)}/${teamA}/flowers`;
    const own = await figureOf(teamA, 'flowers');
    const stolen = await figureOf(teamB, stolenRoot);
    // and one of A's uploaded images: its input is removed once the figure is drawn
    const ownRow = await fx.db.figure.findUniqueOrThrow({ where: { id: own } });
    const inputKey = `runs/${ownRow.runId}/figures/upload-test.input.png`;
    const [, firstImage] = [...(await imageFolderFiles(1, 64))][0];
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: inputKey, Body: firstImage }));
    const upload = (
      await fx.db.figure.create({ data: { runId: ownRow.runId, checkpointId: ownRow.checkpointId, step: 2, source: 'upload', inputKey } })
    ).id;
    const worker = new FigureWorker({ env: fx.env, db: fx.db, timeoutMs: 300_000 });
    await worker.start();
    const queue = figuresQueue({ redisUrl: fx.env.redisUrl, prefix: fx.env.queuePrefix });
    try {
      await enqueueFigure(queue, own);
      await enqueueFigure(queue, stolen);
      await enqueueFigure(queue, upload);
      const a = await settled(own);
      const b = await settled(stolen);
      const u = await settled(upload);
      assert.equal(u.status, 'ready', `the upload figure: ${u.error}`);
      const input = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: inputKey })).then(
        () => 'still there',
        (e: Error) => e.name,
      );
      assert.equal(input, 'NoSuchKey', 'the uploaded input is removed once its figure is drawn');
      assert.equal(a.status, 'ready', `team A's own figure: ${a.error}`);
      assert.ok(a.key && (a.width ?? 0) > 0, `A's figure has a PNG (${a.key}, ${a.width}×${a.height})`);
      assert.equal(b.status, 'failed', "team B's figure of A's folder must fail");
      assert.equal(b.key, null);
      assert.equal(b.error, `image folder data:${stolenRoot} is not a directory in the data area`);
      for (const secret of [dir, process.cwd(), dataRoot])
        assert.ok(!b.error!.includes(secret), `B's error names no path on the worker: ${b.error}`);
    } finally {
      await queue.close();
      await worker.close();
    }
  },
);

test(
  "the figure runner's environment is spelled out: the worker's other variables (a secret) never reach it",
  { timeout: 120_000 },
  async () => {
    process.env.CIM_TEST_WORKER_SECRET = 'hunter2-do-not-leak';
    process.env.AWS_SECRET_ACCESS_KEY = 'pod-credential-do-not-leak';
    try {
      const id = await figureOf(fx.teamId, 'flowers');
      const worker = new FigureWorker({ env: fx.env, db: fx.db, runnerPath: envDumpRunner });
      await worker.start();
      const queue = figuresQueue({ redisUrl: fx.env.redisUrl, prefix: fx.env.queuePrefix });
      try {
        await enqueueFigure(queue, id);
        const f = await settled(id, 60_000);
        assert.equal(f.status, 'failed');
        const seen = JSON.parse(f.error!.replace(/^figure runner exit 3: /, '')) as string[];
        assert.ok(!seen.includes('CIM_TEST_WORKER_SECRET') && !seen.includes('AWS_SECRET_ACCESS_KEY'), `the runner saw ${seen.join(' ')}`);
        // what it needs: the service settings (the database, the bucket, the data root) and PATH
        for (const k of ['DATABASE_URL', 'REDIS_URL', 'S3_BUCKET', 'CIM_DATA_ROOT', 'PATH'])
          assert.ok(seen.includes(k), `${k} in ${seen.join(' ')}`);
      } finally {
        await queue.close();
        await worker.close();
      }
    } finally {
      delete process.env.CIM_TEST_WORKER_SECRET;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  },
);
