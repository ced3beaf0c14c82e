/**
 * Copies an image folder out of S3 into a local directory (for a rank, or the CLI), so every
 * reader (loader threads included) opens it as a local folder. Keys are checked again (no empty,
 * ".", ".." or dot segments), files are created exclusively, and the total is bounded.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { S3ImageStore } from './s3-image-store.ts';

export interface FetchImageFolderOptions {
  /** lower-case extensions with the dot; other objects are not fetched */
  extensions: readonly string[];
  /** most bytes fetched (shared by several calls when the same object is passed) */
  budget: { bytes: number };
  /** parallel GETs (default 8) */
  concurrency?: number;
}

export class FetchLimitError extends Error {}

/** returns the number of files written */
export async function fetchImageFolder(store: S3ImageStore, dir: string, opts: FetchImageFolderOptions): Promise<number> {
  const keys = (await store.list()).filter((k) => opts.extensions.some((e) => k.toLowerCase().endsWith(e)));
  for (const k of keys) {
    if (k.split('/').some((p) => p === '' || p === '.' || p === '..' || p.startsWith('.')))
      throw new Error(`image folder ${store.location} has an object with an unusable name: ${k}`);
  }
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < keys.length && !failed) {
      const key = keys[next++];
      const bytes = await store.read(key);
      opts.budget.bytes -= bytes.length;
      if (opts.budget.bytes < 0) throw new FetchLimitError(`image folder ${store.location} is larger than the fetch limit`);
      const path = join(dir, ...key.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes, { flag: 'wx' });
    }
  };
  // every GET settles before the caller may remove dir, so nothing is written after a failure
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(opts.concurrency ?? 8, keys.length) }, () =>
      worker().catch((e: unknown) => {
        failed = true;
        throw e;
      }),
    ),
  );
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return keys.length;
}
