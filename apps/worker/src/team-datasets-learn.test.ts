// A team's own labelled images, on disk and in s3rver, through the service's path: the config the
// API resolves (one folder → its train and held-out parts), localized into the team's area, then
// the fine-tuning engine the rank runs. 3 colour classes: chance is 33%.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { initTestBackend } from '@cim-forge/cim/testing';
import { resolveFinetuneConfig, type FinetuneConfig } from '@cim-forge/config';
import { finetune } from '@cim-forge/engine';
import { startS3TestServer, type S3TestServer } from '@cim-forge/storage/testing';
import { localizeDatasets, s3DataPrefix, type TeamDataContext } from './team-datasets.ts';
import { imageFolderFiles, writeImageFolder } from '@cim-forge/data/testing';

const TEAM = '11111111-1111-4111-8111-111111111111';
let dir: string;
let s3: S3TestServer;
let ctx: TeamDataContext;

before(async () => {
  await initTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'cim-team-learn-'));
  s3 = await startS3TestServer();
  const files = await imageFolderFiles(40);
  await writeImageFolder(join(dir, 'data', TEAM, 'colours'), files);
  for (const [key, body] of files)
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${s3DataPrefix(TEAM)}/colours/${key}`, Body: body }));
  ctx = {
    teamId: TEAM,
    dataRoot: join(dir, 'data'),
    dataCache: join(dir, 'cache'),
    dataMaxBytes: 50_000_000,
    s3: { client: s3.client, bucket: s3.bucket },
  };
});
after(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

/** what POST /v1/runs stores for a finetune on one folder (relative root, its splits) */
const submitted = (store: 'disk' | 's3'): FinetuneConfig =>
  resolveFinetuneConfig({
    model: 'cimVitMicroPatch4',
    modelOverrides: { embedDim: 32, depth: 1, numHeads: 2 },
    dataset: { kind: 'image-folder', root: 'colours', store },
    epochs: 4,
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
  });

for (const store of ['disk', 's3'] as const) {
  test(`fine-tune from scratch on the team's own 3-class folder (${store}): held-out top-1 far above chance`, async () => {
    const config = submitted(store);
    assert.equal((config.dataset as { split?: string }).split, 'train');
    assert.equal((config.evalDataset as { split?: string }).split, 'val');
    const data = await localizeDatasets(config, ctx);
    try {
      const r = await finetune({ config: data.config });
      // 40 per class, 20% held out: 96 to train on, 24 held out
      assert.equal(r.trainImages, 96);
      assert.equal(r.evalImages, 24);
      console.log(`${store}: top-1 by epoch ${r.evals.map((e) => e.top1.toFixed(3)).join(' ')}`);
      assert.ok(r.top1 >= 0.75, `held-out top-1 ${r.top1} (chance 0.33)`);
    } finally {
      await data.cleanup();
    }
  });
}
