/**
 * `--dataset D` for the labelled commands (finetune, probe, eval, visualize): a built-in name, a
 * local ImageFolder directory (DIR/<class>/*.png|jpg|webp, or DIR/train/<class>/… with
 * DIR/val/<class>/…), or s3://bucket/prefix, fetched once into the cache directory
 * (<cache>/s3/<bucket>/<prefix>, reused while its ".cim-fetched" marker is there; S3_* variables
 * as for the service, else the AWS SDK's default credentials).
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IMAGE_FOLDER_EXTENSIONS, type FolderSplit, type SourceSpec } from '@cim-forge/data';
import { createS3Client, fetchImageFolder, parseS3Uri, S3ImageStore } from '@cim-forge/storage';
import { cliSettings, UsageError } from './args.ts';

const MARKER = '.cim-fetched';

/** a local directory for D, or undefined when D is a built-in data set's name */
export async function folderOf(flag: string, d: string): Promise<string | undefined> {
  if (d === 'fashion-mnist' || d === 'synthetic') return undefined;
  if (d.startsWith('s3://')) return fetchS3Folder(flag, d);
  const dir = resolve(d);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UsageError(`--${flag} ${d}: not fashion-mnist, an s3://bucket/prefix, or a directory (an ImageFolder: DIR/<class>/<images>)`);
  }
  return dir;
}

async function fetchS3Folder(flag: string, uri: string): Promise<string> {
  const loc = parseS3Uri(uri.replace(/\/+$/, ''));
  if (!loc) throw new UsageError(`--${flag} ${uri}: expected s3://bucket/prefix`);
  const settings = cliSettings();
  const dir = join(settings.cacheDir, 's3', loc.bucket, ...loc.key.split('/'));
  if (existsSync(join(dir, MARKER))) return dir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const client = createS3Client(settings.s3);
  try {
    const n = await fetchImageFolder(new S3ImageStore({ client, bucket: loc.bucket, prefix: loc.key }), dir, {
      extensions: IMAGE_FOLDER_EXTENSIONS,
      budget: { bytes: settings.dataMaxBytes },
    });
    await writeFile(join(dir, MARKER), `${uri}\n${n} files\n`);
    console.error(`fetched      ${n} images from ${uri} into ${dir}`);
    return dir;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new UsageError(`--${flag} ${uri}: ${(err as Error).message}`);
  } finally {
    client.destroy();
  }
}

/** an ImageFolder spec for one split of a local folder */
export function folderSpec(root: string, split: FolderSplit, valFraction?: number): SourceSpec {
  return { kind: 'image-folder', root, split, ...(valFraction !== undefined ? { valFraction } : {}) };
}
