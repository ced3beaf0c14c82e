import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { imageFolderFromStore, imageFolderSource } from './image-folder.ts';
import type { RgbImage } from './image-source.ts';
import type { ImageStore } from './image-store.ts';

/** A smooth RGB gradient (default 24×16) (smooth so JPEG reproduces it closely), different per `k`. */
function pattern(k: number, width = 24, height = 16): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = Math.min(255, 20 + k * 5 + Math.round((x * 180) / width));
      data[o + 1] = Math.min(255, 30 + k * 3 + Math.round((y * 160) / height));
      data[o + 2] = 200 - k * 10 - Math.round((x * 40) / width);
    }
  }
  return { width, height, data };
}

const toSharp = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });

/** Mean and max absolute difference of two equally long byte arrays. */
function absDiff(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  assert.equal(a.length, b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

/** JPEG at quality 95 (4:4:4) reproduces a smooth gradient to within a few levels. */
function assertJpegClose(actual: Uint8Array, expected: Uint8Array): void {
  const d = absDiff(actual, expected);
  assert.ok(d.mean <= 2 && d.max <= 10, `JPEG differs by mean ${d.mean.toFixed(2)}, max ${d.max}`);
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cim-imagefolder-'));
  // classes deliberately created out of order; "Zebra" sorts before "ant" (code units, like Python)
  for (const cls of ['dog', 'cat', 'ant', 'Zebra']) await mkdir(join(root, cls));
  await toSharp(pattern(0))
    .png()
    .toFile(join(root, 'cat', 'b.png'));
  await toSharp(pattern(1))
    .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
    .toFile(join(root, 'cat', 'a.JPG'));
  await toSharp(pattern(2))
    .webp({ lossless: true })
    .toFile(join(root, 'dog', 'x.webp'));
  await mkdir(join(root, 'dog', 'nested'));
  await toSharp(pattern(3))
    .png()
    .toFile(join(root, 'dog', 'nested', 'y.png'));
  // grayscale PNG, RGBA PNG, and a wide image for maxSide
  await sharp(Buffer.from(Array.from({ length: 12 }, (_, i) => i * 20)), { raw: { width: 4, height: 3, channels: 1 } })
    .png()
    .toFile(join(root, 'ant', 'gray.png'));
  await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 255]), { raw: { width: 2, height: 1, channels: 4 } })
    .png()
    .toFile(join(root, 'ant', 'rgba.png'));
  await toSharp(pattern(4, 300, 120))
    .png()
    .toFile(join(root, 'Zebra', 'wide.png'));
  // a JPEG stored sideways with EXIF orientation 6 (display = rotate 90° clockwise)
  await toSharp(pattern(5))
    .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
    .withMetadata({ orientation: 6 })
    .toFile(join(root, 'Zebra', 'rotated.jpg'));
  await writeFile(join(root, 'cat', 'notes.txt'), 'ignored');
  await writeFile(join(root, 'README.md'), 'ignored: not in a class');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('classes and files are sorted; labels are class indices', async () => {
  const s = await imageFolderSource(root);
  assert.deepEqual(s.classNames, ['Zebra', 'ant', 'cat', 'dog']);
  assert.equal(s.numClasses, 4);
  assert.equal(s.size, 8);
  assert.deepEqual(
    Array.from({ length: s.size }, (_, i) => s.label!(i)),
    [0, 0, 1, 1, 2, 2, 3, 3],
  );
});

test('decoded pixels match what was written (exact for PNG/WebP-lossless, close for JPEG)', async () => {
  const s = await imageFolderSource(root);
  // order: Zebra/rotated.jpg, Zebra/wide.png, ant/gray.png, ant/rgba.png, cat/a.JPG, cat/b.png,
  //        dog/nested/y.png, dog/x.webp
  const png = (await s.get(5)) as RgbImage;
  assert.deepEqual([png.width, png.height], [24, 16]);
  assert.deepEqual(png.data, pattern(0).data);
  const jpg = (await s.get(4)) as RgbImage;
  assertJpegClose(jpg.data, pattern(1).data);
  assert.deepEqual(((await s.get(7)) as RgbImage).data, pattern(2).data);
  assert.deepEqual(((await s.get(6)) as RgbImage).data, pattern(3).data);
});

test('grayscale is replicated, alpha dropped, EXIF orientation applied', async () => {
  const s = await imageFolderSource(root);
  const gray = (await s.get(2)) as RgbImage;
  assert.deepEqual([gray.width, gray.height], [4, 3]);
  assert.deepEqual(Array.from(gray.data.subarray(0, 9)), [0, 0, 0, 20, 20, 20, 40, 40, 40]);
  const rgba = (await s.get(3)) as RgbImage;
  assert.deepEqual(Array.from(rgba.data), [10, 20, 30, 40, 50, 60]);
  const rotated = (await s.get(0)) as RgbImage;
  assert.deepEqual([rotated.width, rotated.height], [16, 24]);
  // rotating 90° clockwise: displayed (x, y) comes from stored (y, H - 1 - x)
  const src = pattern(5);
  const expected = new Uint8Array(16 * 24 * 3);
  for (let y = 0; y < 24; y++) {
    for (let x = 0; x < 16; x++) {
      for (let c = 0; c < 3; c++) expected[(y * 16 + x) * 3 + c] = src.data[((15 - x) * 24 + y) * 3 + c];
    }
  }
  assertJpegClose(rotated.data, expected);
});

test('maxSide downscales the longer side and keeps the aspect ratio; smaller images untouched', async () => {
  const s = await imageFolderSource(root, { maxSide: 100 });
  const wide = (await s.get(1)) as RgbImage;
  assert.deepEqual([wide.width, wide.height], [100, 40]);
  assert.equal(wide.data.length, 100 * 40 * 3);
  const small = (await s.get(5)) as RgbImage;
  assert.deepEqual([small.width, small.height], [24, 16]);
});

test('clear errors: missing root, no images, empty class, corrupt file', async () => {
  await assert.rejects(imageFolderSource(join(root, 'nope')), /image folder .*nope does not exist/);
  const empty = await mkdtemp(join(tmpdir(), 'cim-imagefolder-empty-'));
  try {
    await assert.rejects(imageFolderSource(empty), /no class directories/);
    await mkdir(join(empty, 'a'));
    await writeFile(join(empty, 'a', 'x.gif'), 'GIF89a');
    await assert.rejects(imageFolderSource(empty), /no images found \(accepted extensions: \.jpg, \.jpeg, \.png, \.webp\)/);
    await mkdir(join(empty, 'b'));
    await toSharp(pattern(0))
      .png()
      .toFile(join(empty, 'b', 'ok.png'));
    await assert.rejects(imageFolderSource(empty), /no images in class a /);
    await writeFile(join(empty, 'a', 'broken.jpg'), Buffer.from('this is not a jpeg'));
    const s = await imageFolderSource(empty);
    await assert.rejects(Promise.resolve(s.get(0)), /cannot decode .*a\/broken\.jpg/);
    assert.equal(((await s.get(1)) as RgbImage).width, 24);
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test('any ImageStore works (the seam for an S3-backed folder)', async () => {
  const png = await toSharp(pattern(0)).png().toBuffer();
  const files = new Map<string, Uint8Array>([
    ['cls1/0.png', png],
    ['cls0/1.png', png],
  ]);
  const store: ImageStore = {
    location: 'mem://bucket/train',
    list: async () => [...files.keys()],
    read: async (key) => files.get(key)!,
  };
  const s = await imageFolderFromStore(store);
  assert.equal(s.name, 'image-folder:mem://bucket/train');
  assert.deepEqual(s.classNames, ['cls0', 'cls1']);
  assert.deepEqual(((await s.get(1)) as RgbImage).data, pattern(0).data);
});
