/**
 * An ImageFolder in S3: s3://<bucket>/<prefix>/<class>/<img>. Satisfies libs/data's `ImageStore`
 * structurally (location, list(), read(key)); keys are '/'-separated and relative to the prefix.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { isNotFound, joinKey, normalizePrefix, s3Uri } from './s3-location.ts';

export interface S3ImageStoreOptions {
  client: S3Client;
  bucket: string;
  /** the dataset root, e.g. "imagenet/train" */
  prefix?: string;
}

export class S3ImageStore {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;

  constructor(options: S3ImageStoreOptions) {
    if (!options.bucket) throw new Error('S3ImageStore needs a bucket');
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.location = s3Uri(this.bucket, this.prefix);
  }

  /** every object key under the prefix, skipping folder markers and dot-files like the local store */
  async list(): Promise<string[]> {
    const root = this.prefix ? this.prefix + '/' : '';
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: root, ContinuationToken: token }))
        .catch((err: unknown) => {
          if ((err as { name?: string }).name === 'NoSuchBucket') {
            throw new Error(`image folder ${this.location} does not exist (no bucket ${this.bucket})`);
          }
          throw err;
        });
      for (const o of res.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        const rel = o.Key.slice(root.length);
        if (rel.split('/').some((part) => part.startsWith('.') || part === '')) continue;
        keys.push(rel);
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    if (keys.length === 0) throw new Error(`image folder ${this.location} does not exist (no objects under it)`);
    return keys;
  }

  async read(key: string): Promise<Uint8Array> {
    const objectKey = joinKey(this.prefix, key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return await res.Body!.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) throw new Error(`image ${s3Uri(this.bucket, objectKey)} does not exist`);
      throw err;
    }
  }
}
