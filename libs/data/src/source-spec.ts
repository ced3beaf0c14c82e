import { fashionMnistSource, type FashionMnistSplit } from './fashion-mnist.ts';
import { imageFolderSplit, type FolderSplit } from './image-folder-split.ts';
import type { ImageSource } from './image-source.ts';
import { localImageStore } from './image-store.ts';
import { syntheticSource } from './synthetic.ts';

/**
 * A JSON-serialisable description of an ImageSource, so that any thread or process (loader
 * workers, rank pods) can open the same data.
 */
export type SourceSpec =
  | { kind: 'fashion-mnist'; split: FashionMnistSplit; limit?: number; cacheDir?: string }
  | ImageFolderSpec
  | { kind: 'synthetic'; size: number; imageSize: number; seed: number };

/**
 * An ImageFolder (root/<class>/…). In the service, a run's config names `root` relative to the
 * team's data area and `store` says where that area is (disk: CIM_DATA_ROOT/<team>/, s3:
 * s3://<bucket>/data/<team>/); the worker rewrites it to a local root with `area` set, and the
 * store never leaves `area`. `split` picks the labelled train or held-out part (image-folder-split.ts).
 */
export interface ImageFolderSpec {
  kind: 'image-folder';
  root: string;
  maxSide?: number;
  limit?: number;
  split?: FolderSplit;
  valFraction?: number;
  splitSeed?: number;
  /** where the root lives before a worker fetches it (default disk) */
  store?: 'disk' | 's3';
  /** an absolute directory the store may never leave (set by the worker, never by a client) */
  area?: string;
}

export async function openSource(spec: SourceSpec): Promise<ImageSource> {
  switch (spec.kind) {
    case 'fashion-mnist':
      return fashionMnistSource({ split: spec.split, limit: spec.limit, cacheDir: spec.cacheDir });
    case 'image-folder': {
      if (spec.store === 's3')
        throw new Error(`image folder ${spec.root} is in S3: the worker fetches it into its data area before opening it`);
      const store = localImageStore(spec.root, { area: spec.area });
      const { maxSide, split, valFraction, splitSeed } = spec;
      return firstN(await imageFolderSplit(store, { maxSide, split, valFraction, splitSeed }), spec.limit);
    }
    case 'synthetic':
      return syntheticSource({ size: spec.size, imageSize: spec.imageSize, seed: spec.seed });
    default:
      throw new Error(`openSource: unknown source kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  }
}

/** The first `limit` images of a source (all when limit is undefined). */
function firstN(source: ImageSource, limit: number | undefined): ImageSource {
  if (limit === undefined || limit >= source.size) return source;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return { ...source, name: `${source.name}[:${limit}]`, size: limit };
}
