import sharp from 'sharp';
import { checkIndex, type ImageSource, type RgbImage } from './image-source.ts';
import { localImageStore, type ImageStore } from './image-store.ts';

export const IMAGE_FOLDER_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'] as const;

export interface ImageFolderOptions {
  /** downscale on decode so that max(width, height) <= maxSide, keeping the aspect ratio */
  maxSide?: number;
  /** accepted extensions, lower case with the dot; default IMAGE_FOLDER_EXTENSIONS */
  extensions?: readonly string[];
  /**
   * The labels' classes, fixed (e.g. a val/ folder labelled as its train/ folder): label i is
   * classNames[i]; a class folder not in it is an error, a class with no folder here has no images.
   */
  classNames?: readonly string[];
}

/**
 * torchvision's ImageFolder: root/<class>/**\/<image>. Classes are the top-level directories
 * sorted by code unit (Python's sorted()), files sorted the same way within each class; labels are
 * class indices. Files directly under root and files with other extensions are ignored; an empty
 * class is an error, as in torchvision.
 */
export function imageFolderSource(root: string, opts: ImageFolderOptions = {}): Promise<ImageSource> {
  return imageFolderFromStore(localImageStore(root), opts);
}

export async function imageFolderFromStore(store: ImageStore, opts: ImageFolderOptions = {}): Promise<ImageSource> {
  const { maxSide } = opts;
  if (maxSide !== undefined && (!Number.isInteger(maxSide) || maxSide < 1)) {
    throw new RangeError(`imageFolderSource: maxSide must be a positive integer, got ${maxSide}`);
  }
  const extensions = (opts.extensions ?? IMAGE_FOLDER_EXTENSIONS).map((e) => e.toLowerCase());
  const keys = await store.list();
  const byClass = new Map<string, string[]>();
  for (const key of keys) {
    const slash = key.indexOf('/');
    if (slash < 0) continue; // a file directly under root belongs to no class
    const cls = key.slice(0, slash);
    if (!byClass.has(cls)) byClass.set(cls, []);
    if (extensions.some((e) => key.toLowerCase().endsWith(e))) byClass.get(cls)!.push(key);
  }
  const found = [...byClass.keys()].sort(byCodeUnit);
  const accepted = extensions.join(', ');
  if (opts.classNames) {
    const known = new Set(opts.classNames);
    const unknown = found.filter((c) => !known.has(c));
    if (unknown.length > 0)
      throw new Error(
        `image folder ${store.location}: class ${unknown.join(', ')} is not one of the training classes (${opts.classNames.join(', ')})`,
      );
    const empty = found.filter((c) => byClass.get(c)!.length === 0);
    if (empty.length > 0)
      throw new Error(`image folder ${store.location}: no images in class ${empty.join(', ')} (accepted extensions: ${accepted})`);
    if (found.length === 0) throw new Error(`image folder ${store.location}: no images found (accepted extensions: ${accepted})`);
    for (const c of opts.classNames) if (!byClass.has(c)) byClass.set(c, []);
  }
  const classNames = opts.classNames ? [...opts.classNames] : found;
  if (classNames.length === 0) {
    throw new Error(`image folder ${store.location} has no class directories (expected root/<class>/<image>{${accepted}})`);
  }
  const empty = opts.classNames ? [] : classNames.filter((c) => byClass.get(c)!.length === 0);
  if (empty.length === classNames.length) {
    throw new Error(`image folder ${store.location}: no images found (accepted extensions: ${accepted})`);
  }
  if (empty.length > 0) {
    throw new Error(`image folder ${store.location}: no images in class ${empty.join(', ')} (accepted extensions: ${accepted})`);
  }
  const files: string[] = [];
  const labels: number[] = [];
  classNames.forEach((cls, label) => {
    for (const key of byClass.get(cls)!.sort(byCodeUnit)) {
      files.push(key);
      labels.push(label);
    }
  });
  const source: ImageSource = {
    name: `image-folder:${store.location}`,
    size: files.length,
    numClasses: classNames.length,
    classNames,
    async get(index: number): Promise<RgbImage> {
      checkIndex(source, index);
      const key = files[index];
      let bytes: Uint8Array;
      try {
        bytes = await store.read(key);
      } catch (err) {
        throw new Error(`image folder: cannot read ${store.location}/${key}: ${(err as Error).message}`, { cause: err });
      }
      try {
        return await decodeRgb(bytes, maxSide);
      } catch (err) {
        throw new Error(`image folder: cannot decode ${store.location}/${key}: ${(err as Error).message}`, { cause: err });
      }
    },
    label(index: number): number {
      checkIndex(source, index);
      return labels[index];
    },
  };
  return source;
}

/** Python's sorted() order for strings (code units, not locale). */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Decodes any format sharp reads into 8-bit sRGB: EXIF orientation applied, alpha dropped (as
 * PIL's convert('RGB') does), grayscale replicated, 16-bit reduced, optional downscale so the
 * longer side is at most maxSide (never enlarged).
 */
export async function decodeRgb(bytes: Uint8Array, maxSide?: number): Promise<RgbImage> {
  let pipeline = sharp(bytes, { failOn: 'error' }).rotate();
  if (maxSide !== undefined) {
    pipeline = pipeline.resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true });
  }
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  if (channels === 3) {
    return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }
  // sharp keeps single-band images single-band in some versions: replicate (or drop extras)
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = data[i * channels + Math.min(c, channels - 1)];
  }
  return { width, height, data: out };
}
