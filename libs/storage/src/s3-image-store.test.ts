import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { S3ImageStore } from './s3-image-store.ts';
import { startS3TestServer, type S3TestServer } from './testing/s3-test-server.ts';

describe('S3ImageStore against a real S3-compatible server (s3rver)', () => {
  let s3: S3TestServer;
  const objects: Record<string, Uint8Array> = {
    'datasets/tiny/train/cat/1.png': new Uint8Array([137, 80, 78, 71, 1]),
    'datasets/tiny/train/cat/2.png': new Uint8Array([137, 80, 78, 71, 2]),
    'datasets/tiny/train/dog/a/3.jpg': new Uint8Array([255, 216, 255, 3]),
    'datasets/tiny/train/dog/.DS_Store': new Uint8Array([0]),
    'datasets/tiny/train/dog/': new Uint8Array(0), // a console-made "folder" marker
    'datasets/tiny/val/cat/9.png': new Uint8Array([9]),
  };

  before(async () => {
    s3 = await startS3TestServer('images');
    for (const [Key, Body] of Object.entries(objects)) await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body }));
  });
  after(async () => {
    await s3?.close();
  });

  test('lists <class>/<img> keys relative to the prefix and reads their bytes', async () => {
    const store = new S3ImageStore({ client: s3.client, bucket: s3.bucket, prefix: 'datasets/tiny/train/' });
    assert.equal(store.location, 's3://images/datasets/tiny/train');
    assert.deepEqual((await store.list()).sort(), ['cat/1.png', 'cat/2.png', 'dog/a/3.jpg']);
    assert.deepEqual(await store.read('dog/a/3.jpg'), objects['datasets/tiny/train/dog/a/3.jpg']);
    await assert.rejects(store.read('cat/nope.png'), /image s3:\/\/images\/datasets\/tiny\/train\/cat\/nope\.png does not exist/);
  });

  test('a prefix or bucket with nothing under it rejects like a missing folder', async () => {
    await assert.rejects(
      new S3ImageStore({ client: s3.client, bucket: s3.bucket, prefix: 'datasets/none' }).list(),
      /image folder s3:\/\/images\/datasets\/none does not exist/,
    );
    await assert.rejects(
      new S3ImageStore({ client: s3.client, bucket: 'no-such-bucket', prefix: 'x' }).list(),
      /does not exist \(no bucket no-such-bucket\)/,
    );
  });
});
