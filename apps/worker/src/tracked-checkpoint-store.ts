/**
 * A CheckpointStore over S3 whose truth is Postgres: write() inserts the row PENDING, writes the
 * files and the manifest to S3, then turns the row COMPLETE with the manifest's sha256. list()
 * returns only COMPLETE rows (a reader never sees a checkpoint still being written, or one whose
 * row never completed), and remove() never deletes a checkpoint a fine-tune or a sweep has pinned.
 */
import type { Db } from '@cim-forge/db';
import { parseCheckpointUri, serializeManifest, sha256Hex, type CheckpointManifest, type S3CheckpointStore } from '@cim-forge/storage';

export interface TrackedCheckpointStoreOptions {
  db: Db;
  s3: S3CheckpointStore;
  runId: string;
  /** called after a checkpoint is COMPLETE (events, metrics) */
  onComplete?(c: { id: string; rowId: string; step: number; bytes: number; seconds: number }): void | Promise<void>;
}

export class TrackedCheckpointStore {
  readonly location: string;

  constructor(private readonly o: TrackedCheckpointStoreOptions) {
    this.location = o.s3.location;
  }

  async write(id: string, step: number, files: Record<string, Uint8Array>): Promise<CheckpointManifest> {
    const t0 = performance.now();
    const uri = this.o.s3.uri(id);
    const state = parseState(files['state.json']);
    const epoch = Math.max(0, Math.floor(state.epoch ?? 0));
    const metrics = state.metrics ?? undefined;
    // PENDING first: a crash from here on leaves a row that readers ignore
    const row = await this.o.db.checkpoint.upsert({
      where: { runId_step: { runId: this.o.runId, step } },
      create: { runId: this.o.runId, step, epoch, uri, status: 'PENDING', metrics },
      update: { uri, epoch, status: 'PENDING', manifestDigest: null, completedAt: null, metrics },
    });
    const manifest = await this.o.s3.write(id, step, files);
    const digest = sha256Hex(new TextEncoder().encode(serializeManifest(manifest)));
    await this.o.db.checkpoint.update({
      where: { id: row.id },
      data: { status: 'COMPLETE', manifestDigest: digest, completedAt: new Date() },
    });
    const bytes = Object.values(manifest.files).reduce((a, f) => a + f.bytes, 0);
    await this.o.onComplete?.({ id, rowId: row.id, step, bytes, seconds: (performance.now() - t0) / 1000 });
    return manifest;
  }

  /** COMPLETE checkpoints of this run that still have a manifest in S3, oldest first */
  async list(): Promise<CheckpointManifest[]> {
    const rows = await this.o.db.checkpoint.findMany({ where: { runId: this.o.runId, status: 'COMPLETE' }, orderBy: { step: 'asc' } });
    const out: CheckpointManifest[] = [];
    for (const r of rows) {
      const m = await this.o.s3.manifest(storeIdOf(r.uri));
      if (m) out.push(m);
    }
    return out;
  }

  read(id: string, file: string): Promise<Uint8Array> {
    return this.o.s3.read(id, file);
  }

  /**
   * Retention: drops the row and the files, unless a fine-tune pins the checkpoint, or a sweep
   * does (its source, in the stored spec, before any trial run refers to it).
   */
  async remove(id: string): Promise<void> {
    const uri = this.o.s3.uri(id);
    const row = await this.o.db.checkpoint.findUnique({ where: { uri }, include: { _count: { select: { finetunes: true } } } });
    if (row && row._count.finetunes > 0) return;
    if (row && (await this.o.db.sweep.count({ where: { spec: { path: ['sourceCheckpointId'], equals: row.id } } })) > 0) return;
    if (row) await this.o.db.checkpoint.delete({ where: { id: row.id } });
    await this.o.s3.remove(id);
  }
}

/** "s3://bucket/runs/<run>/checkpoints/<id>" → "<id>" */
export function storeIdOf(uri: string): string {
  const c = parseCheckpointUri(uri);
  if (!c) throw new Error(`checkpoint uri ${uri} is not s3://bucket/<prefix>/<id>`);
  return c.id;
}

function parseState(bytes: Uint8Array | undefined): { epoch?: number; metrics?: Record<string, number> } {
  if (!bytes) return {};
  try {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as {
      data?: { epoch?: number };
      epoch?: number;
      metrics?: Record<string, number>;
    };
    const metrics = s.metrics ? Object.fromEntries(Object.entries(s.metrics).filter(([, v]) => Number.isFinite(v))) : undefined;
    return { epoch: s.data?.epoch ?? s.epoch, metrics };
  } catch {
    return {};
  }
}
