/**
 * Where checkpoints live. A checkpoint is a set of named files written atomically: files first,
 * then a manifest with each file's sha256 and size; a reader trusts only a checkpoint whose
 * manifest exists and matches. The local store backs the CLI; an S3 store backs the service.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface CheckpointManifest {
  id: string;
  step: number;
  files: Record<string, { sha256: string; bytes: number }>;
  createdAt: string;
}

export interface CheckpointStore {
  /** a human-readable location, e.g. a directory or an s3:// prefix */
  readonly location: string;
  write(id: string, step: number, files: Record<string, Uint8Array>): Promise<CheckpointManifest>;
  /** complete checkpoints, oldest first */
  list(): Promise<CheckpointManifest[]>;
  /** a file's bytes, checked against the manifest */
  read(id: string, file: string): Promise<Uint8Array>;
  remove(id: string): Promise<void>;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export class LocalCheckpointStore implements CheckpointStore {
  readonly location: string;

  constructor(readonly dir: string) {
    this.location = dir;
  }

  async write(id: string, step: number, files: Record<string, Uint8Array>): Promise<CheckpointManifest> {
    if (!/^[\w.-]+$/.test(id)) throw new Error(`bad checkpoint id ${id}`);
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${id}-${process.pid}`);
    const final = join(this.dir, id);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    const manifest: CheckpointManifest = { id, step, files: {}, createdAt: new Date().toISOString() };
    for (const [name, bytes] of Object.entries(files)) {
      await writeFile(join(tmp, name), bytes);
      manifest.files[name] = { sha256: sha256(bytes), bytes: bytes.byteLength };
    }
    // the manifest last: a directory without one is incomplete
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    return manifest;
  }

  async list(): Promise<CheckpointManifest[]> {
    if (!existsSync(this.dir)) return [];
    const out: CheckpointManifest[] = [];
    for (const name of await readdir(this.dir)) {
      if (name.startsWith('.')) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, name, 'manifest.json'), 'utf8')) as CheckpointManifest);
      } catch {
        // no manifest: incomplete, ignored
      }
    }
    return out.sort((a, b) => a.step - b.step);
  }

  async read(id: string, file: string): Promise<Uint8Array> {
    const manifest = JSON.parse(await readFile(join(this.dir, id, 'manifest.json'), 'utf8')) as CheckpointManifest;
    const entry = manifest.files[file];
    if (!entry) throw new Error(`checkpoint ${id} has no file ${file}`);
    const bytes = new Uint8Array(await readFile(join(this.dir, id, file)));
    if (bytes.byteLength !== entry.bytes || sha256(bytes) !== entry.sha256) {
      throw new Error(`checkpoint ${id}: ${file} is corrupt (sha256 or size differs from its manifest)`);
    }
    return bytes;
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.dir, id), { recursive: true, force: true });
  }
}
