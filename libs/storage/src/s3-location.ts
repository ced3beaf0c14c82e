/** Bucket + key-prefix arithmetic shared by the S3 stores. Prefixes never start or end with '/'. */

export function normalizePrefix(prefix: string | undefined): string {
  return (prefix ?? '').replace(/^\/+|\/+$/g, '');
}

/** "a/b" + "c/d" → "a/b/c/d"; an empty prefix adds nothing. */
export function joinKey(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].filter((p) => p.length > 0).join('/');
}

export function s3Uri(bucket: string, key: string): string {
  return key ? `s3://${bucket}/${key}` : `s3://${bucket}`;
}

/** True for the SDK's "object does not exist" errors (GetObject NoSuchKey, HeadObject NotFound). */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
