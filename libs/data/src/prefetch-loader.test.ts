import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { epochOrder } from './epoch-order.ts';
import { PrefetchLoader, type LoaderBatch, type PrefetchLoaderOptions } from './prefetch-loader.ts';
import { sampleSeed } from './seeded-random.ts';
import type { meanPixelSample } from './fixtures/mean-pixel-sample.ts';

type Sample = ReturnType<typeof meanPixelSample>;

const sampleModule = fileURLToPath(new URL('./fixtures/mean-pixel-sample.ts', import.meta.url));
// 50 images, batches of 8: each epoch is 6 full batches and one of 2
const base: PrefetchLoaderOptions = {
  source: { kind: 'synthetic', size: 50, imageSize: 16, seed: 1 },
  sampleModule,
  sampleExport: 'meanPixelSample',
  sampleOptions: { scale: 2 },
  batchSize: 8,
  seed: 1234,
};

async function take(opts: Partial<PrefetchLoaderOptions>, n: number): Promise<LoaderBatch<Sample>[]> {
  const loader = new PrefetchLoader<Sample>({ ...base, ...opts });
  try {
    const out: LoaderBatch<Sample>[] = [];
    for (let i = 0; i < n; i++) out.push(await loader.next());
    return out;
  } finally {
    await loader.close();
  }
}

/** Everything that must not depend on threads or prefetch depth. */
const essence = (batches: LoaderBatch<Sample>[]) =>
  batches.map((b) => ({
    epoch: b.epoch,
    cursor: b.cursor,
    indices: b.indices,
    labels: b.labels,
    samples: b.samples.map(({ threadId: _t, ...rest }) => rest),
  }));

test('batches follow the epoch order, never span epochs, and seeds are hash(seed, epoch, position)', async () => {
  const batches = await take({ workers: 0 }, 9);
  assert.deepEqual(
    batches.map((b) => [b.epoch, b.cursor, b.samples.length]),
    [
      [0, 8, 8],
      [0, 16, 8],
      [0, 24, 8],
      [0, 32, 8],
      [0, 40, 8],
      [0, 48, 8],
      [0, 50, 2],
      [1, 8, 8],
      [1, 16, 8],
    ],
  );
  const order0 = epochOrder(50, 1234, 0);
  assert.deepEqual(
    batches.slice(0, 7).flatMap((b) => b.indices),
    Array.from(order0),
  );
  assert.deepEqual(batches[7].indices, Array.from(epochOrder(50, 1234, 1).subarray(0, 8)));
  const s = batches[1].samples[3];
  assert.equal(s.index, order0[11]);
  assert.equal(s.position, 11);
  assert.equal(s.seed, sampleSeed(1234, 0, 11));
  assert.equal(s.label, batches[1].labels![3]);
  assert.ok(s.mean > 0 && s.mean <= 510); // scale 2 from sampleOptions
  assert.ok(s.firstRow instanceof Float32Array && s.firstRow.length === 48);
});

test('inline, 1 worker and 2 workers give identical batches, whatever the prefetch depth', async () => {
  const inline = await take({ workers: 0, prefetch: 0 }, 10);
  const one = await take({ workers: 1, prefetch: 1 }, 10);
  const two = await take({ workers: 2, prefetch: 3 }, 10);
  assert.deepEqual(essence(one), essence(inline));
  assert.deepEqual(essence(two), essence(inline));
  // and the work really ran off the main thread, on both workers
  assert.ok(one.every((b) => b.samples.every((s) => s.threadId !== 0)));
  assert.equal(new Set(two.flatMap((b) => b.samples.map((s) => s.threadId))).size, 2);
  assert.ok(inline.every((b) => b.samples.every((s) => s.threadId === 0)));
});

test('resuming from state() reproduces the following batches', async () => {
  const reference = await take({ workers: 0 }, 12);
  const loader = new PrefetchLoader<Sample>({ ...base, workers: 0, prefetch: 3 });
  for (let i = 0; i < 5; i++) await loader.next();
  const saved = loader.state();
  await loader.close();
  assert.deepEqual(saved, { epoch: 0, cursor: 40 }); // prefetched batches are not counted
  const resumed = await take({ workers: 1, startEpoch: saved.epoch, startCursor: saved.cursor }, 7);
  assert.deepEqual(essence(resumed), essence(reference.slice(5)));
  // a state at an epoch's end resumes at the next epoch's start
  const atEnd = await take({ workers: 0, startEpoch: 0, startCursor: 50 }, 1);
  assert.deepEqual(essence(atEnd), essence(reference.slice(7, 8)));
});

test('the shards of 2 ranks are disjoint and cover the epoch', async () => {
  const rank0 = await take({ workers: 0, rank: 0, worldSize: 2 }, 4); // 25 per rank: 8+8+8+1
  const rank1 = await take({ workers: 0, rank: 1, worldSize: 2 }, 4);
  for (const r of [rank0, rank1])
    assert.deepEqual(
      r.map((b) => b.cursor),
      [8, 16, 24, 25],
    );
  const i0 = rank0.flatMap((b) => b.indices);
  const i1 = rank1.flatMap((b) => b.indices);
  assert.equal(new Set([...i0, ...i1]).size, 50);
  // positions interleave: rank r holds permutation positions r, r + 2, ...
  assert.deepEqual(
    rank1[0].samples.map((s) => s.position),
    [1, 3, 5, 7, 9, 11, 13, 15],
  );
});

test('dropLast skips the short batch; ready() reports the epoch geometry', async () => {
  const loader = new PrefetchLoader<Sample>({ ...base, dropLast: true });
  try {
    assert.deepEqual(await loader.ready(), {
      sourceName: 'synthetic(seed=1,size=50,16px)',
      sourceSize: 50,
      shardSize: 50,
      batchesPerEpoch: 6,
    });
    const cursors: string[] = [];
    for (let i = 0; i < 7; i++) {
      const b = await loader.next();
      cursors.push(`${b.epoch}:${b.cursor}`);
    }
    assert.deepEqual(cursors, ['0:8', '0:16', '0:24', '0:32', '0:40', '0:48', '1:8']);
  } finally {
    await loader.close();
  }
});

test('a failing sample names the sample, from a worker too; close() twice is safe', async () => {
  for (const workers of [0, 1]) {
    const loader = new PrefetchLoader<Sample>({ ...base, sampleExport: 'failOnSevenSample', workers, batchSize: 50 });
    await assert.rejects(loader.next(), /sample 7 \(epoch 0, position \d+\) failed: seven is not allowed/);
    await loader.close();
    await loader.close();
    await assert.rejects(loader.next(), /PrefetchLoader is closed/);
  }
});

test('bad options and a missing export are reported clearly', async () => {
  assert.throws(() => new PrefetchLoader({ ...base, batchSize: 0 }), /batchSize must be an integer >= 1/);
  assert.throws(() => new PrefetchLoader({ ...base, rank: 2, worldSize: 2 }), /rank 2 not in \[0, 2\)/);
  const loader = new PrefetchLoader({ ...base, sampleExport: 'notAFunction' });
  await assert.rejects(loader.next(), /has no exported function notAFunction/);
  await loader.close();
  const relative = new PrefetchLoader({ ...base, sampleModule: './fixtures/mean-pixel-sample.ts' });
  await assert.rejects(relative.next(), /must be an absolute path/);
  await relative.close();
});

test('close() while batches are in flight on workers ends cleanly', async () => {
  const loader = new PrefetchLoader<Sample>({ ...base, workers: 2, prefetch: 4 });
  await loader.next();
  await Promise.all([loader.close(), loader.close()]);
});

test('a process that forgets close() still exits (idle workers do not hold it open)', () => {
  const script = fileURLToPath(new URL('./fixtures/forget-close.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, null, 'the child had to be killed: it hung');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /got 0:8/);
});
