// Two teams' data areas on one worker, on disk and in s3rver: each run reads only its own team's
// area; symlinks, "..", /proc and another team's S3 folder all end in a refusal that names nothing
// outside the area.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { notInAreaMessage, openSource, type SourceSpec } from '@cim-forge/data';
import { startS3TestServer, type S3TestServer } from '@cim-forge/storage/testing';
import { RunError } from './run-error.ts';
import { localizeDatasets, s3DataPrefix, type TeamDataContext } from './team-datasets.ts';
import { imageFolderFiles, writeImageFolder } from '@cim-forge/data/testing';

const TEAM_A = '11111111-1111-4111-8111-111111111111';
const TEAM_B = '22222222-2222-4222-8222-222222222222';
let dir: string;
let s3: S3TestServer;
let ctx: (teamId: string, extra?: Partial<TeamDataContext>) => TeamDataContext;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cim-team-data-'));
  s3 = await startS3TestServer();
  const dataRoot = join(dir, 'data');
  const files = await imageFolderFiles(5);
  await writeImageFolder(join(dataRoot, TEAM_A, 'shapes'), files);
  for (const [key, body] of files)
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${s3DataPrefix(TEAM_A)}/shapes/${key}`, Body: body }));
  const b = join(dataRoot, TEAM_B);
  await mkdir(join(b, 'stolen'), { recursive: true });
  await symlink(join(dataRoot, TEAM_A), join(b, 'escape')); // into A's area
  await symlink('..', join(b, 'up')); // to the data root itself
  await symlink('/proc/self/root', join(b, 'proc'));
  await symlink(join(dataRoot, TEAM_A, 'shapes', 'red'), join(b, 'stolen', 'red')); // a class folder of A's
  ctx = (teamId, extra = {}) => ({
    teamId,
    dataRoot,
    dataCache: join(dir, 'cache'),
    dataMaxBytes: 10_000_000,
    s3: { client: s3.client, bucket: s3.bucket },
    ...extra,
  });
});
after(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const folder = (root: string, extra: object = {}): { dataset: SourceSpec } => ({
  dataset: { kind: 'image-folder', root, ...extra } as SourceSpec,
});

test('a team reads its own folder on disk, and only through its own area', async () => {
  const { config } = await localizeDatasets(folder('shapes/'), ctx(TEAM_A));
  assert.deepEqual(config.dataset, { kind: 'image-folder', root: join(dir, 'data', TEAM_A, 'shapes'), area: join(dir, 'data', TEAM_A) });
  const src = await openSource(config.dataset);
  assert.deepEqual([src.size, src.classNames], [15, ['blue', 'green', 'red']]);
  assert.equal(src.name, 'image-folder:data:shapes');
});

test("team B reaches nothing of team A's through symlinks, '..' or /proc, and is told nothing about it", async () => {
  const messages = new Set<string>();
  for (const root of ['escape/shapes', 'escape', 'up', `up/${TEAM_A}/shapes`, 'proc/etc', 'proc', 'no-such-folder', 'shapes']) {
    const { config } = await localizeDatasets(folder(root), ctx(TEAM_B));
    const err = await openSource(config.dataset).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err, `${root} opened`);
    assert.equal(err.message, notInAreaMessage(`data:${root}`));
    messages.add(err.message.replace(`data:${root}`, '<root>'));
  }
  assert.equal(messages.size, 1);
  // a class folder that links into A's area is skipped: what is left has no classes
  const { config } = await localizeDatasets(folder('stolen'), ctx(TEAM_B));
  await assert.rejects(openSource(config.dataset), { message: /^image folder data:stolen has no class directories/ });
  // a config that never went through the API is checked again here
  for (const root of [`../${TEAM_A}/shapes`, `/${dir}/data/${TEAM_A}/shapes`, 'a\u0000b']) {
    await assert.rejects(
      localizeDatasets(folder(root), ctx(TEAM_B)),
      (e: Error) => e instanceof RunError && /^config\.dataset\.root must/.test(e.message),
    );
  }
  await assert.rejects(
    localizeDatasets(folder('shapes'), ctx(TEAM_A, { dataRoot: undefined })),
    /this worker has no data root \(CIM_DATA_ROOT\)/,
  );
});

test("S3: a team's folder is fetched from s3://<bucket>/data/<team>/ into a fresh directory, read like the disk one, and removed", async () => {
  const spec = { store: 's3', split: 'train', valFraction: 0.4 };
  const data = await localizeDatasets(
    { dataset: folder('shapes', spec).dataset, evalDataset: folder('shapes', { ...spec, split: 'val' }).dataset },
    ctx(TEAM_A),
  );
  const ds = data.config.dataset as { root: string; area: string };
  assert.equal(ds.area, ds.root);
  assert.equal((data.config.evalDataset as { root: string }).root, ds.root, 'fetched once for both parts');
  const train = await openSource(data.config.dataset);
  const val = await openSource(data.config.evalDataset);
  assert.deepEqual([train.size, val.size], [9, 6]);
  const disk = await openSource({ kind: 'image-folder', root: join(dir, 'data', TEAM_A, 'shapes'), split: 'val', valFraction: 0.4 });
  assert.deepEqual((await val.get(3)).data, (await disk.get(3)).data, 'the same images in the same order as on disk');
  assert.equal((await readdir(join(dir, 'cache'))).length, 1);
  await data.cleanup();
  await data.cleanup();
  assert.equal((await readdir(join(dir, 'cache'))).length, 0);
});

test("S3: team B's folder of the same name is its own (empty) one; too large a folder is refused", async () => {
  await assert.rejects(
    localizeDatasets(folder('shapes', { store: 's3' }), ctx(TEAM_B)),
    (e: Error) => e instanceof RunError && e.message === 'image folder s3:shapes has no objects in your data area',
  );
  await assert.rejects(localizeDatasets(folder('shapes', { store: 's3' }), ctx(TEAM_A, { dataMaxBytes: 2000 })), {
    message: 'image folder s3:shapes is larger than this worker fetches for one run (CIM_DATA_MAX_BYTES)',
  });
  assert.equal((await readdir(join(dir, 'cache'))).length, 0, 'a refused fetch leaves nothing behind');
});
