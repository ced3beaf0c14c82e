import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3CheckpointStore } from './s3-checkpoint-store.ts';
import { CheckpointCorruptError } from './checkpoint-corrupt-error.ts';
import { createS3Client } from './s3-client.ts';
import { sha256Hex } from './checkpoint-manifest.ts';
import { startS3TestServer, type S3TestServer } from './testing/s3-test-server.ts';

const MIB = 1024 * 1024;
const PART = 5 * MIB;

/** deterministic bytes: [n] */
function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** a fresh client on the same server whose send() can be observed or made to fail */
function instrumentedClient(
  s3: S3TestServer,
  onSend: (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => void,
): S3Client {
  const client = createS3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
  });
  const send = client.send.bind(client);
  client.send = ((cmd: { constructor: { name: string }; input: Record<string, unknown> }, ...rest: unknown[]) => {
    onSend(cmd);
    return (send as (...a: unknown[]) => unknown)(cmd, ...rest);
  }) as typeof client.send;
  return client;
}

async function exists(s3: S3TestServer, key: string): Promise<boolean> {
  try {
    await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

describe('S3CheckpointStore against a real S3-compatible server (s3rver)', () => {
  let s3: S3TestServer;
  const files = {
    'weights.bin': pattern(11 * MIB, 1),
    'optimizer.bin': pattern(4096, 2),
    'state.json': new TextEncoder().encode('{"step":10}'),
  };

  before(async () => {
    s3 = await startS3TestServer();
  });
  after(async () => {
    await s3?.close();
  });

  test('write → list → read round-trips 3 files, the 11 MiB one through multipart', async () => {
    const sent: string[] = [];
    const client = instrumentedClient(s3, (cmd) => sent.push(cmd.constructor.name));
    const store = new S3CheckpointStore({ client, bucket: s3.bucket, prefix: '/runs/r1/checkpoints/', partSize: PART });
    assert.equal(store.location, `s3://${s3.bucket}/runs/r1/checkpoints`);

    const m = await store.write('step-10', 10, files);
    assert.equal(m.files['weights.bin'].bytes, 11 * MIB);
    assert.equal(m.files['weights.bin'].sha256, sha256Hex(files['weights.bin']));
    // 11 MiB in 5 MiB parts: 5 + 5 + 1
    assert.equal(sent.filter((n) => n === 'CreateMultipartUploadCommand').length, 1);
    assert.equal(sent.filter((n) => n === 'UploadPartCommand').length, 3);
    assert.equal(sent.filter((n) => n === 'CompleteMultipartUploadCommand').length, 1);
    // the manifest is the last object written
    assert.equal(sent.at(-1), 'PutObjectCommand');

    await store.write('step-20', 20, { 'state.json': files['state.json'] });
    const listed = await store.list();
    assert.deepEqual(
      listed.map((c) => [c.id, c.step]),
      [
        ['step-10', 10],
        ['step-20', 20],
      ],
    );
    for (const [name, bytes] of Object.entries(files)) assert.deepEqual(await store.read('step-10', name), bytes);
    await assert.rejects(store.read('step-10', 'nope.bin'), /checkpoint step-10 has no file nope\.bin/);
    client.destroy();
  });

  test('a checkpoint whose manifest is missing is not listed and cannot be read', async () => {
    const store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: 'runs/r2' });
    await store.write('step-1', 1, { 'a.bin': pattern(100, 3) });
    // files of step-2 landed, its manifest never did (the writer died)
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'runs/r2/step-2/a.bin', Body: pattern(100, 4) }));
    assert.deepEqual(
      (await store.list()).map((c) => c.id),
      ['step-1'],
    );
    assert.equal(await store.manifest('step-2'), undefined);
    await assert.rejects(store.read('step-2', 'a.bin'), /checkpoint step-2 at s3:\/\/cim-test\/runs\/r2\/step-2 is missing or incomplete/);
  });

  test('a corrupted or missing object makes read() throw a corrupt error naming the file', async () => {
    const store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: 'runs/r3' });
    await store.write('step-5', 5, { 'a.bin': pattern(1000, 5), 'b.bin': pattern(1000, 6), 'c.bin': pattern(10, 7) });
    const flipped = pattern(1000, 5);
    flipped[500] ^= 0xff; // same size, one byte differs
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'runs/r3/step-5/a.bin', Body: flipped }));
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'runs/r3/step-5/b.bin', Body: pattern(999, 6) }));
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'runs/r3/step-5/c.bin' }));

    await assert.rejects(store.read('step-5', 'a.bin'), (err: unknown) => {
      assert.ok(err instanceof CheckpointCorruptError);
      assert.equal(err.file, 'a.bin');
      assert.equal(err.checkpointId, 'step-5');
      assert.match(err.message, /^checkpoint step-5: a\.bin is corrupt \(sha256 /);
      return true;
    });
    await assert.rejects(store.read('step-5', 'b.bin'), /checkpoint step-5: b\.bin is corrupt \(size 999 B, manifest says 1000 B\)/);
    await assert.rejects(
      store.read('step-5', 'c.bin'),
      /checkpoint step-5: c\.bin is corrupt \(object s3:\/\/cim-test\/runs\/r3\/step-5\/c\.bin is missing\)/,
    );
  });

  test('remove() deletes every object under the id and leaves the others', async () => {
    const store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: 'runs/r4' });
    await store.write('step-1', 1, { 'a.bin': pattern(10, 1), 'b.bin': pattern(10, 2) });
    await store.write('step-10', 10, { 'a.bin': pattern(10, 3) }); // "step-1" is a prefix of "step-10"'s id
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'runs/r4/step-1/stray.tmp', Body: 'x' }));
    await store.remove('step-1');
    await store.remove('step-1'); // twice is fine
    for (const f of ['manifest.json', 'a.bin', 'b.bin', 'stray.tmp']) assert.equal(await exists(s3, `runs/r4/step-1/${f}`), false, f);
    assert.deepEqual(
      (await store.list()).map((c) => c.id),
      ['step-10'],
    );
    assert.deepEqual(await store.read('step-10', 'a.bin'), pattern(10, 3));
  });

  test('a presigned URL downloads the exact bytes with a plain fetch', async () => {
    const store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: 'runs/r5' });
    const bytes = pattern(300_000, 9);
    const m = await store.write('step-3', 3, { 'weights.bin': bytes });
    const url = await store.presignedDownloadUrl('step-3', 'weights.bin', 60);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const got = new Uint8Array(await res.arrayBuffer());
    assert.equal(got.byteLength, m.files['weights.bin'].bytes);
    assert.equal(sha256Hex(got), m.files['weights.bin'].sha256);
    await assert.rejects(store.presignedDownloadUrl('step-3', 'nope.bin', 60), /has no file nope\.bin/);
    await assert.rejects(store.presignedDownloadUrl('step-3', 'weights.bin', 0), /expiresSeconds/);
  });

  for (const failing of ['PutObjectCommand', 'UploadPartCommand'] as const) {
    test(`the second file's upload failing (${failing}) leaves no manifest; list() shows only the earlier checkpoint`, async () => {
      const secondKey = 'runs/r6/step-2/weights.bin';
      const sent: string[] = [];
      const client = instrumentedClient(s3, (cmd) => {
        sent.push(cmd.constructor.name);
        if (cmd.constructor.name === failing && cmd.input.Key === secondKey) throw new Error('injected: connection reset');
      });
      const store = new S3CheckpointStore({ client, bucket: s3.bucket, prefix: 'runs/r6', partSize: PART });
      await store.write('step-1', 1, { 'state.json': files['state.json'] });
      const weights = failing === 'UploadPartCommand' ? files['weights.bin'] : pattern(1000, 8); // multipart or single PUT
      await assert.rejects(
        store.write('step-2', 2, { 'state.json': files['state.json'], 'weights.bin': weights, 'z.bin': pattern(10, 1) }),
        /injected/,
      );
      assert.equal(await exists(s3, 'runs/r6/step-1/manifest.json'), true);
      assert.equal(await exists(s3, 'runs/r6/step-2/state.json'), true); // the first file did land…
      assert.equal(await exists(s3, 'runs/r6/step-2/manifest.json'), false); // …but no manifest
      assert.equal(await exists(s3, secondKey), false);
      assert.deepEqual(
        (await store.list()).map((c) => c.id),
        ['step-1'],
      );
      // a failed multipart upload is aborted (s3rver refuses the abort; the injected error still surfaces)
      assert.equal(sent.includes('AbortMultipartUploadCommand'), failing === 'UploadPartCommand');
      assert.equal(sent.includes('CompleteMultipartUploadCommand'), false);
      await assert.rejects(store.read('step-2', 'state.json'), /missing or incomplete/);
      await store.remove('step-2');
      await store.remove('step-1');
      client.destroy();
    });
  }

  test('rewriting an id replaces the checkpoint; bad ids and file names are refused', async () => {
    const store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: 'runs/r7' });
    await store.write('step-1', 1, { 'old.bin': pattern(10, 1) });
    await store.write('step-1', 1, { 'new.bin': pattern(10, 2) });
    assert.equal(await exists(s3, 'runs/r7/step-1/old.bin'), false);
    assert.deepEqual(Object.keys((await store.list())[0].files), ['new.bin']);
    await assert.rejects(store.write('../x', 1, {}), /bad checkpoint id/);
    await assert.rejects(store.write('step-2', 2, { 'a/b': pattern(1, 1) }), /bad checkpoint file name/);
    await assert.rejects(store.write('step-2', 2, { 'manifest.json': pattern(1, 1) }), /may not be called manifest\.json/);
    assert.throws(
      () => new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, partSize: MIB }),
      /partSize must be an integer ≥ 5242880/,
    );
  });
});
