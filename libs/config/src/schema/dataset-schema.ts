/**
 * Where a run's images come from (libs/data SourceSpec), as a client may write it. `cacheDir` is
 * the worker's business and is not accepted.
 */
import { Type } from 'typebox';
import { Int, MAX_SEED, StringEnum } from './schema-parts.ts';

/** images in one dataset (a limit, a synthetic size) */
export const MAX_DATASET_IMAGES = 10_000_000;

const limit = Type.Optional(Int(1, MAX_DATASET_IMAGES, { description: 'use only the first N images' }));

export const FashionMnistDataset = Type.Object(
  { kind: Type.Literal('fashion-mnist'), split: StringEnum(['train', 'test'] as const), limit },
  { additionalProperties: false },
);
export const ImageFolderDataset = Type.Object(
  {
    kind: Type.Literal('image-folder'),
    // its rules (relative, no '..', length ≤ 1024, …) are datasetRootProblem's, checked after the schema
    root: Type.String({ description: "the folder of class folders, relative to the team's data area (no absolute path, no '..')" }),
    maxSide: Type.Optional(Int(8, 4096, { description: 'decoded images are shrunk to at most this side, px' })),
    limit,
    split: Type.Optional(
      StringEnum(['all', 'train', 'val'] as const, {
        description: 'all images, or the train / held-out part (val/ folders, else a seeded stratified split)',
      }),
    ),
    valFraction: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'held-out share when there are no val/ folders' }),
    ),
    splitSeed: Type.Optional(Int(0, MAX_SEED, { description: 'seed of the stratified split' })),
    store: Type.Optional(StringEnum(['disk', 's3'] as const, { description: "where the team's data area is" })),
  },
  { additionalProperties: false },
);
export const SyntheticDataset = Type.Object(
  {
    kind: Type.Literal('synthetic'),
    size: Int(1, MAX_DATASET_IMAGES),
    imageSize: Int(8, 1024),
    seed: Int(0, MAX_SEED),
  },
  { additionalProperties: false },
);

export const DatasetSpec = Type.Union([FashionMnistDataset, ImageFolderDataset, SyntheticDataset], {
  description: 'fashion-mnist, image-folder or synthetic',
});

/** Images a spec holds when that is known without reading it (null: an image folder without a limit). */
export function datasetImages(spec: { kind: string; split?: string; limit?: number; size?: number }): number | null {
  const cap = (n: number) => (spec.limit !== undefined ? Math.min(spec.limit, n) : n);
  if (spec.kind === 'synthetic') return spec.size ?? null;
  if (spec.kind === 'fashion-mnist') return cap(spec.split === 'test' ? 10_000 : 60_000);
  return spec.limit ?? null;
}

/**
 * Images per class when known without reading the data (Fashion-MNIST's splits are balanced:
 * 6,000 and 1,000 per class; a limit smaller than the split leaves the classes unknown): null
 * otherwise.
 */
export function datasetClassCounts(spec: { kind: string; split?: string; limit?: number }): number[] | null {
  if (spec.kind !== 'fashion-mnist') return null;
  const perClass = spec.split === 'test' ? 1_000 : 6_000;
  if (spec.limit !== undefined && spec.limit < perClass * 10) return null;
  return new Array<number>(10).fill(perClass);
}
