import { fashionMnistSource, type FashionMnistSplit } from './fashion-mnist.ts';
import { imageFolderSource } from './image-folder.ts';
import type { ImageSource } from './image-source.ts';
import { syntheticSource } from './synthetic.ts';

/**
 * A JSON-serialisable description of an ImageSource, so that any thread or process (loader
 * workers, rank pods) can open the same data. An S3-backed image folder will be a new kind here.
 */
export type SourceSpec =
  | { kind: 'fashion-mnist'; split: FashionMnistSplit; limit?: number; cacheDir?: string }
  | { kind: 'image-folder'; root: string; maxSide?: number; limit?: number }
  | { kind: 'synthetic'; size: number; imageSize: number; seed: number };

export async function openSource(spec: SourceSpec): Promise<ImageSource> {
  switch (spec.kind) {
    case 'fashion-mnist':
      return fashionMnistSource({ split: spec.split, limit: spec.limit, cacheDir: spec.cacheDir });
    case 'image-folder':
      return firstN(await imageFolderSource(spec.root, { maxSide: spec.maxSide }), spec.limit);
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
