/**
 * The labelled splits of an ImageFolder: train/ and val/ folders when the root has both
 * (root/train/<class>/…, root/val/<class>/…, val labelled with train's classes), else a seeded
 * stratified split of root/<class>/…: per class, a seeded shuffle, the first round(f·n) images
 * (at least one, when the class has two or more) held out.
 */
import { imageFolderFromStore, type ImageFolderOptions } from './image-folder.ts';
import { checkIndex, type ImageSource } from './image-source.ts';
import type { ImageStore } from './image-store.ts';
import { hashSeeds, SeededRandom } from './seeded-random.ts';

/** all: every image; train / val: the split */
export type FolderSplit = 'all' | 'train' | 'val';

export interface FolderSplitOptions extends ImageFolderOptions {
  split?: FolderSplit;
  /** held-out fraction of each class when the root has no train/ and val/ folders (default 0.2) */
  valFraction?: number;
  /** seeds the stratified split (default 0) */
  splitSeed?: number;
}

export const DEFAULT_VAL_FRACTION = 0.2;

/** The store's keys under `dir/`, as a store of its own. */
function subStore(store: ImageStore, keys: string[], dir: string): ImageStore {
  const prefix = `${dir}/`;
  const mine = keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  return { location: `${store.location}/${dir}`, list: async () => mine, read: (key) => store.read(prefix + key) };
}

export async function imageFolderSplit(store: ImageStore, opts: FolderSplitOptions = {}): Promise<ImageSource> {
  const split = opts.split ?? 'all';
  if (split !== 'all' && split !== 'train' && split !== 'val')
    throw new Error(`image folder split must be all, train or val, got ${JSON.stringify(split)}`);
  const fraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`valFraction must be in (0, 1), got ${fraction}`);
  const keys = await store.list();
  const listed: ImageStore = { location: store.location, list: async () => keys, read: (k) => store.read(k) };
  if (split === 'all') return imageFolderFromStore(listed, opts);
  const top = new Set(keys.map((k) => k.slice(0, Math.max(0, k.indexOf('/')))));
  if (top.has('train') && top.has('val')) {
    const train = await imageFolderFromStore(subStore(store, keys, 'train'), opts);
    return split === 'train' ? train : imageFolderFromStore(subStore(store, keys, 'val'), { ...opts, classNames: train.classNames });
  }
  const whole = await imageFolderFromStore(listed, opts);
  const held = heldOutIndices(whole, fraction, opts.splitSeed ?? 0);
  const indices: number[] = [];
  for (let i = 0; i < whole.size; i++) if (held.has(i) === (split === 'val')) indices.push(i);
  return subset(whole, indices, split);
}

/** per class: a seeded shuffle of its indices, the first round(f·n) held out (≥ 1 when n ≥ 2, < n) */
function heldOutIndices(src: ImageSource, fraction: number, seed: number): Set<number> {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < src.size; i++) {
    const c = src.label!(i);
    if (!byClass.has(c)) byClass.set(c, []);
    byClass.get(c)!.push(i);
  }
  const held = new Set<number>();
  for (const [c, idx] of byClass) {
    const n = idx.length;
    const k = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    new SeededRandom(hashSeeds(seed >>> 0, c, 0x5a1d)).shuffle(idx);
    for (const i of idx.slice(0, k)) held.add(i);
  }
  return held;
}

function subset(src: ImageSource, indices: number[], split: FolderSplit): ImageSource {
  const out: ImageSource = {
    name: `${src.name}[${split}]`,
    size: indices.length,
    numClasses: src.numClasses,
    classNames: src.classNames,
    get(index) {
      checkIndex(out, index);
      return src.get(indices[index]);
    },
    label(index) {
      checkIndex(out, index);
      return src.label!(indices[index]);
    },
  };
  return out;
}
