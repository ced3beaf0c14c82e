/**
 * Checkpoints in S3: s3://<bucket>/<prefix>/<id>/<file>, then <id>/manifest.json LAST. A
 * checkpoint without a manifest (a crash or a failed upload mid-write) is incomplete: list()
 * ignores it and read() refuses it. Every read is checked against the manifest's sha256 and size.
 * Satisfies libs/engine's `CheckpointStore` structurally.
 */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CheckpointCorruptError } from './checkpoint-corrupt-error.ts';
import { type CheckpointManifest, MANIFEST_FILE, parseManifest, serializeManifest, sha256Hex } from './checkpoint-manifest.ts';
import { isNotFound, joinKey, normalizePrefix, s3Uri } from './s3-location.ts';
import { multipartUpload } from './multipart-upload.ts';

export interface S3CheckpointStoreOptions {
  client: S3Client;
  bucket: string;
  /** key prefix, e.g. "runs/<runId>/checkpoints"; '' for the bucket root */
  prefix?: string;
  /** multipart part size, bytes; S3's minimum is 5 MiB (default 8 MiB) */
  partSize?: number;
  /** files larger than this go through multipart upload, bytes (default: partSize) */
  multipartThreshold?: number;
  /** parts uploaded concurrently per file (default 4) */
  queueSize?: number;
}

const MIB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MIB; // S3: every part but the last is ≥ 5 MiB
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600; // SigV4 limit
const ID_PATTERN = /^[\w.-]+$/;

export class S3CheckpointStore {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly partSize: number;
  readonly multipartThreshold: number;
  readonly queueSize: number;
  private readonly client: S3Client;

  constructor(options: S3CheckpointStoreOptions) {
    if (!options.bucket) throw new Error('S3CheckpointStore needs a bucket');
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.partSize = options.partSize ?? 8 * MIB;
    this.multipartThreshold = options.multipartThreshold ?? this.partSize;
    this.queueSize = options.queueSize ?? 4;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new Error(`partSize must be an integer ≥ ${MIN_PART_SIZE} bytes (5 MiB), got ${this.partSize}`);
    }
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) throw new Error(`queueSize must be ≥ 1, got ${this.queueSize}`);
    this.location = s3Uri(this.bucket, this.prefix);
  }

  async write(id: string, step: number, files: Record<string, Uint8Array>): Promise<CheckpointManifest> {
    checkId(id);
    for (const name of Object.keys(files)) checkFileName(name);
    // a rewrite of an id starts from nothing, so old files never mix with new ones under a manifest
    await this.remove(id);
    const manifest: CheckpointManifest = { id, step, files: {}, createdAt: new Date().toISOString() };
    for (const [name, bytes] of Object.entries(files)) {
      await this.putFile(this.key(id, name), bytes);
      manifest.files[name] = { sha256: sha256Hex(bytes), bytes: bytes.byteLength };
    }
    // the manifest last: until it exists the checkpoint is incomplete
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(id, MANIFEST_FILE),
        Body: serializeManifest(manifest),
        ContentType: 'application/json',
      }),
    );
    return manifest;
  }

  /** complete checkpoints (those with a valid manifest), oldest first by step */
  async list(): Promise<CheckpointManifest[]> {
    const ids: string[] = [];
    for (const key of await this.listKeys(this.prefix ? this.prefix + '/' : '')) {
      const rest = this.prefix ? key.slice(this.prefix.length + 1) : key;
      const parts = rest.split('/');
      if (parts.length === 2 && parts[1] === MANIFEST_FILE && ID_PATTERN.test(parts[0])) ids.push(parts[0]);
    }
    const out: CheckpointManifest[] = [];
    for (const id of ids) {
      const m = await this.readManifest(id);
      if (m && m.id === id) out.push(m);
    }
    return out.sort((a, b) => a.step - b.step || a.createdAt.localeCompare(b.createdAt));
  }

  /** the manifest of a complete checkpoint, or undefined when it is missing or incomplete */
  async manifest(id: string): Promise<CheckpointManifest | undefined> {
    checkId(id);
    return this.readManifest(id);
  }

  async read(id: string, file: string): Promise<Uint8Array> {
    const entry = await this.manifestEntry(id, file);
    let bytes: Uint8Array;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id, file) }));
      bytes = await res.Body!.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) throw new CheckpointCorruptError(id, file, `object ${s3Uri(this.bucket, this.key(id, file))} is missing`);
      throw err;
    }
    if (bytes.byteLength !== entry.bytes) {
      throw new CheckpointCorruptError(id, file, `size ${bytes.byteLength} B, manifest says ${entry.bytes} B`);
    }
    const digest = sha256Hex(bytes);
    if (digest !== entry.sha256) {
      throw new CheckpointCorruptError(id, file, `sha256 ${digest.slice(0, 12)}…, manifest says ${entry.sha256.slice(0, 12)}…`);
    }
    return bytes;
  }

  /** deletes every object under <id>/, the manifest first so the checkpoint is never half-listed */
  async remove(id: string): Promise<void> {
    checkId(id);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(id, MANIFEST_FILE) }));
    const keys = await this.listKeys(this.key(id) + '/');
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000); // DeleteObjects takes at most 1000 keys
      const res = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      if (res.Errors?.length) {
        const e = res.Errors[0];
        throw new Error(`removing checkpoint ${id}: ${res.Errors.length} objects not deleted (first: ${e.Key}: ${e.Code} ${e.Message})`);
      }
    }
  }

  /** a GET URL for one file of a complete checkpoint, valid for expiresSeconds (1 s … 7 days) */
  async presignedDownloadUrl(id: string, file: string, expiresSeconds: number): Promise<string> {
    if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_PRESIGN_SECONDS) {
      throw new Error(`expiresSeconds must be an integer in [1, ${MAX_PRESIGN_SECONDS}], got ${expiresSeconds}`);
    }
    await this.manifestEntry(id, file);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id, file) }), {
      expiresIn: expiresSeconds,
    });
  }

  /** s3://bucket/prefix/<id>[/<file>] */
  uri(id: string, file?: string): string {
    return s3Uri(this.bucket, file === undefined ? this.key(id) : this.key(id, file));
  }

  private key(id: string, file?: string): string {
    return file === undefined ? joinKey(this.prefix, id) : joinKey(this.prefix, id, file);
  }

  private async putFile(key: string, bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength <= this.multipartThreshold) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes }));
      return;
    }
    await multipartUpload({
      client: this.client,
      bucket: this.bucket,
      key,
      body: bytes,
      partSize: this.partSize,
      queueSize: this.queueSize,
    });
  }

  private async manifestEntry(id: string, file: string): Promise<{ sha256: string; bytes: number }> {
    checkId(id);
    const m = await this.readManifest(id);
    if (!m) throw new Error(`checkpoint ${id} at ${this.uri(id)} is missing or incomplete (no valid ${MANIFEST_FILE})`);
    const entry = Object.hasOwn(m.files, file) ? m.files[file] : undefined;
    if (!entry) throw new Error(`checkpoint ${id} has no file ${file}`);
    return entry;
  }

  private async readManifest(id: string): Promise<CheckpointManifest | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id, MANIFEST_FILE) }));
      return parseManifest(await res.Body!.transformToString());
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }
}

function checkId(id: string): void {
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') throw new Error(`bad checkpoint id ${JSON.stringify(id)}`);
}

function checkFileName(name: string): void {
  if (!ID_PATTERN.test(name) || name === '.' || name === '..') throw new Error(`bad checkpoint file name ${JSON.stringify(name)}`);
  if (name === MANIFEST_FILE) throw new Error(`a checkpoint file may not be called ${MANIFEST_FILE}`);
}
