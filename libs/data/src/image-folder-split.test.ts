// Labelled splits of an ImageFolder: train/ and val/ folders when present (val labelled with
// train's classes), else a seeded stratified hold-out.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { openSource } from './source-spec.ts';

let dir: string;
const png = (v: number) =>
  sharp({ create: { width: 4, height: 4, channels: 3, background: { r: v, g: 0, b: 0 } } })
    .png()
    .toBuffer();
async function images(folder: string, n: number, base: number) {
  await mkdir(folder, { recursive: true });
  for (let i = 0; i < n; i++) await writeFile(join(folder, `${String(i).padStart(3, '0')}.png`), await png(base + i));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cim-split-'));
  // flat: 3 classes of 10, 5 and 1 images
  await images(join(dir, 'flat', 'ant'), 10, 0);
  await images(join(dir, 'flat', 'bee'), 5, 50);
  await images(join(dir, 'flat', 'cat'), 1, 100);
  // train/ and val/: val lacks "bee", so its labels must still follow train's class list
  await images(join(dir, 'tv', 'train', 'ant'), 4, 0);
  await images(join(dir, 'tv', 'train', 'bee'), 3, 50);
  await images(join(dir, 'tv', 'train', 'cat'), 2, 100);
  await images(join(dir, 'tv', 'val', 'ant'), 2, 10);
  await images(join(dir, 'tv', 'val', 'cat'), 1, 110);
  await images(join(dir, 'bad', 'train', 'ant'), 1, 0);
  await images(join(dir, 'bad', 'val', 'zebra'), 1, 0);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const labelsOf = async (spec: object) => {
  const s = await openSource({ kind: 'image-folder', root: '', ...spec } as never);
  return { size: s.size, classes: s.classNames, labels: Array.from({ length: s.size }, (_, i) => s.label!(i)), name: s.name };
};

test('no val/ folder: a seeded stratified hold-out, disjoint from train, round(0.2·n) per class (≥ 1, < n)', async () => {
  const root = join(dir, 'flat');
  const train = await labelsOf({ root, split: 'train' });
  const val = await labelsOf({ root, split: 'val' });
  const all = await labelsOf({ root });
  assert.equal(all.size, 16);
  // ant 10 → 2 held out, bee 5 → 1, cat 1 → 0 (a class of one stays in training)
  assert.deepEqual(val.labels, [0, 0, 1]);
  assert.deepEqual([train.size, val.size], [13, 3]);
  assert.deepEqual(train.classes, ['ant', 'bee', 'cat']);
  assert.equal(train.labels.filter((l) => l === 2).length, 1);
  assert.match(val.name, /\[val\]$/);
  // the same seed, the same split; another seed, another one; the two parts are disjoint
  const pixels = async (spec: object) => {
    const s = await openSource({ kind: 'image-folder', root, ...spec } as never);
    return Promise.all(Array.from({ length: s.size }, async (_, i) => (await s.get(i)).data[0]));
  };
  const v0 = await pixels({ split: 'val' });
  assert.deepEqual(await pixels({ split: 'val', splitSeed: 0 }), v0);
  assert.notDeepEqual(await pixels({ split: 'val', splitSeed: 7 }), v0);
  const t0 = await pixels({ split: 'train' });
  assert.equal(new Set([...v0, ...t0]).size, 16);
  assert.equal((await labelsOf({ root, split: 'val', valFraction: 0.5 })).size, 5 + 3); // round(2.5) = 3
});

test('train/ and val/ folders: each its own part, val labelled with the classes of train', async () => {
  const root = join(dir, 'tv');
  const train = await labelsOf({ root, split: 'train' });
  const val = await labelsOf({ root, split: 'val' });
  assert.deepEqual(train.classes, ['ant', 'bee', 'cat']);
  assert.deepEqual(train.labels, [0, 0, 0, 0, 1, 1, 1, 2, 2]);
  assert.deepEqual(val.classes, ['ant', 'bee', 'cat']);
  assert.deepEqual(val.labels, [0, 0, 2]);
  await assert.rejects(
    openSource({ kind: 'image-folder', root: join(dir, 'bad'), split: 'val' }),
    /class zebra is not one of the training classes \(ant\)/,
  );
});
