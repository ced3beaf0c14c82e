/**
 * The service's rule for where a run's image folder may be: a plain relative path inside the
 * team's data area (CIM_DATA_ROOT/<team>/ on disk, s3://<bucket>/data/<team>/ in S3). The API
 * applies it at submission, the worker again before it touches the disk or S3 (and then resolves
 * symlinks: libs/data's confined store).
 */
import type { SourceSpec } from '@cim-forge/data';

/** longest accepted root, characters */
export const MAX_DATASET_ROOT_LENGTH = 1024;

/** Why `root` is not a plain relative path inside a data area, or undefined when it is. */
export function datasetRootProblem(root: unknown): string | undefined {
  if (typeof root !== 'string') return `must be a string, got ${JSON.stringify(root)}`;
  if (root.length === 0) return 'must not be empty (a folder in your data area, e.g. "flowers")';
  if (root.length > MAX_DATASET_ROOT_LENGTH) return `must be at most ${MAX_DATASET_ROOT_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(root)) return 'must not contain NUL or other control characters';
  if (root.includes('\\')) return 'must use "/" between folders, not "\\"';
  if (root.startsWith('/') || /^[A-Za-z]:/.test(root) || /^[a-z][a-z0-9+.-]*:\/\//i.test(root)) {
    return `must be relative to your data area (e.g. "flowers/train"), not an absolute path or URL: "${root}"`;
  }
  const parts = root.replace(/\/+$/, '').split('/');
  if (parts.some((p) => p === '..')) return `must not climb out with "..": "${root}"`;
  if (parts.some((p) => p === '' || p === '.')) return `must be a plain path without empty or "." segments: "${root}"`;
  if (parts.some((p) => p.startsWith('.'))) return `must not name hidden (dot) folders: "${root}"`;
  return undefined;
}

/** The same root without a trailing '/', e.g. for joining onto an area. */
export function normalizeDatasetRoot(root: string): string {
  return root.replace(/\/+$/, '');
}

/**
 * The labelled splits a finetune trains and scores on when given one image folder: its train part
 * and its held-out part (image-folder-split.ts in libs/data).
 */
export function heldOutSplits(dataset: SourceSpec): { dataset: SourceSpec; evalDataset: SourceSpec } | undefined {
  if (dataset.kind !== 'image-folder') return undefined;
  const { limit: _limit, ...rest } = dataset;
  return { dataset: { ...dataset, split: dataset.split ?? 'train' }, evalDataset: { ...rest, split: 'val' } };
}
