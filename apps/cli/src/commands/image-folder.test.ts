// The labelled commands on a team's own images: a generated 3-class ImageFolder (PNGs), on disk and
// in s3rver; probe and fine-tune reach a held-out top-1 far above chance (33%), eval scores the
// fine-tuned classifier on the same held-out part, visualize draws from the folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CimViT, cimVitMicroPatch4 } from '@cim-forge/cim';
import { initTestBackend, testBackendChoice } from '@cim-forge/cim/testing';
import { imageFolderFiles, writeImageFolder } from '@cim-forge/data/testing';
import { modelToSafetensors } from '@cim-forge/engine';
import { startS3TestServer, type S3TestServer } from '@cim-forge/storage/testing';
import { writeFile } from 'node:fs/promises';
import { run as runEval } from './eval.ts';
import { run as runFinetune } from './finetune.ts';
import { run as runProbe } from './probe.ts';
import { run as runVisualize } from './visualize.ts';

let dir: string;
let folder: string;
let s3: S3TestServer;
const saved = { ...process.env };

before(async () => {
  await initTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'cli-folder-'));
  folder = join(dir, 'colours');
  const files = await imageFolderFiles(30);
  await writeImageFolder(folder, files);
  s3 = await startS3TestServer();
  for (const [key, body] of files)
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `teams/x/colours/${key}`, Body: body }));
  Object.assign(process.env, {
    S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    CIM_CACHE_DIR: join(dir, 'cache'),
  });
});
after(async () => {
  process.env = saved;
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

/** runs a command quietly, returning its exit code and its one JSON line */
async function cli(fn: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; json: Record<string, unknown> }> {
  const { error, log } = console;
  let out = '';
  console.error = () => {};
  console.log = (s: string) => (out = s);
  try {
    const code = await fn(argv);
    return { code, json: out ? JSON.parse(out) : {} };
  } finally {
    console.error = error;
    console.log = log;
  }
}

const small = ['--model', 'cimVitMicroPatch4', '--backend', testBackendChoice()];

test('probe --dataset DIR and --dataset s3://…: held-out top-1 far above chance on the same split', async () => {
  const disk = await cli(runProbe, ['--from', 'scratch', ...small, '--dataset', folder, '--epochs', '30', '--batch-size', '32']);
  assert.equal(disk.code, 0);
  // 30 per class, 20% held out: 72 to train, 18 to score
  assert.deepEqual([disk.json.trainImages, disk.json.evalImages], [72, 18]);
  assert.ok((disk.json.top1 as number) >= 0.8, `disk top-1 ${disk.json.top1}`);
  const fromS3 = await cli(runProbe, [
    '--from',
    'scratch',
    ...small,
    '--dataset',
    `s3://${s3.bucket}/teams/x/colours`,
    '--epochs',
    '30',
    '--batch-size',
    '32',
  ]);
  assert.equal(fromS3.code, 0);
  assert.equal(fromS3.json.top1, disk.json.top1, 'the same images, the same split, the same result');
  // fetched once into the cache, reused after
  const cached = join(dir, 'cache', 's3', s3.bucket, 'teams', 'x', 'colours');
  assert.ok(existsSync(join(cached, '.cim-fetched')));
  assert.deepEqual((await readdir(cached)).filter((f) => !f.startsWith('.')).sort(), ['blue', 'green', 'red']);
});

test('finetune --dataset DIR learns the classes; eval --dataset DIR scores the held-out part; visualize draws from it', async () => {
  const out = join(dir, 'ft');
  const ft = await cli(runFinetune, [
    '--from',
    'scratch',
    ...small,
    '--dataset',
    folder,
    '--epochs',
    '3',
    '--batch-size',
    '16',
    '--base-lr',
    '0.16',
    '--layer-decay',
    '1',
    '--no-aug',
    '--smoothing',
    '0',
    '--out',
    out,
  ]);
  assert.equal(ft.code, 0);
  assert.deepEqual([ft.json.trainImages, ft.json.evalImages], [72, 18]);
  assert.ok((ft.json.top1 as number) >= 0.8, `fine-tune top-1 ${ft.json.top1}`);
  const ev = await cli(runEval, [
    '--from',
    out,
    '--dataset',
    folder,
    '--eps',
    '0',
    '--corruptions',
    'none',
    '--backend',
    testBackendChoice(),
  ]);
  assert.equal(ev.code, 0);
  const clean = ev.json.clean as { top1: number; images?: number };
  assert.equal(clean.top1, ft.json.top1, 'eval scores the same held-out images the fine-tune did');
  assert.match(ev.json.dataset as string, /\[val\]$/);

  const cim = new CimViT(cimVitMicroPatch4({ embedDim: 32, depth: 1, numHeads: 2, decoderEmbedDim: 32, decoderNumHeads: 2 }), 3);
  const ckpt = join(dir, 'cim.safetensors');
  await writeFile(ckpt, await modelToSafetensors(cim));
  cim.dispose();
  const viz = await cli(runVisualize, [
    '--checkpoint',
    ckpt,
    '--dataset',
    folder,
    '--index',
    '45',
    '--out',
    join(dir, 'maps.png'),
    '--backend',
    testBackendChoice(),
  ]);
  assert.equal(viz.code, 0);
  assert.ok(existsSync(join(dir, 'maps.png')));
  await assert.rejects(
    runVisualize(['--checkpoint', ckpt, '--dataset', folder, '--index', '90']),
    /--index 90: image-folder:.* has 90 images/,
  );
});
