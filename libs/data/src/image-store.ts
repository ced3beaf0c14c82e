import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * Where an ImageFolder's files live. Keys are '/'-separated paths relative to the root
 * ("<class>/<sub/dirs/>file.jpg"). The local filesystem implements it here; an S3 store
 * (ListObjectsV2 under a prefix + GetObject) implements the same three members.
 */
export interface ImageStore {
  /** for messages: "/data/imagenet/train" or "s3://bucket/prefix" */
  readonly location: string;
  /** all file keys under the root, in any order; rejects if the root does not exist */
  list(): Promise<string[]>;
  /** the file's bytes */
  read(key: string): Promise<Uint8Array>;
}

export function localImageStore(root: string): ImageStore {
  const abs = resolve(root);
  return {
    location: abs,
    async list(): Promise<string[]> {
      const st = await stat(abs).catch(() => undefined);
      if (!st) throw new Error(`image folder ${abs} does not exist`);
      if (!st.isDirectory()) throw new Error(`image folder ${abs} is not a directory`);
      const keys: string[] = [];
      await walk(abs, '', keys);
      return keys;
    },
    read(key: string): Promise<Uint8Array> {
      return readFile(join(abs, ...key.split('/')));
    },
  };
}

/** Recursively lists files, skipping dot-files and following symlinked directories. */
async function walk(dir: string, prefix: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const key = prefix + entry.name;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const st = await stat(join(dir, entry.name)).catch(() => undefined);
      isDir = !!st?.isDirectory();
      isFile = !!st?.isFile();
    }
    if (isDir) await walk(join(dir, entry.name), key + '/', out);
    else if (isFile) out.push(key);
  }
}
