/**
 * The manifest written last into every checkpoint: each file's sha256 and size. Same shape as
 * libs/engine's `CheckpointManifest` (copied, not imported: storage never depends on the engine),
 * so an S3 store satisfies the engine's `CheckpointStore` structurally.
 */
import { createHash } from 'node:crypto';

export interface CheckpointManifest {
  id: string;
  step: number;
  files: Record<string, { sha256: string; bytes: number }>;
  createdAt: string;
}

export const MANIFEST_FILE = 'manifest.json';

/** The manifest's bytes as stored; its sha256 is the checkpoint row's manifest digest. */
export function serializeManifest(m: CheckpointManifest): string {
  return JSON.stringify(m, null, 2);
}

export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A parsed manifest, or undefined when the JSON does not have the manifest's shape. */
export function parseManifest(text: string): CheckpointManifest | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  if (typeof o.id !== 'string' || typeof o.step !== 'number' || typeof o.createdAt !== 'string') return undefined;
  if (typeof o.files !== 'object' || o.files === null) return undefined;
  for (const entry of Object.values(o.files as Record<string, unknown>)) {
    const e = entry as Record<string, unknown> | null;
    if (!e || typeof e.sha256 !== 'string' || typeof e.bytes !== 'number') return undefined;
  }
  return o as unknown as CheckpointManifest;
}
