/** "s3://bucket/a/b/c" → { bucket: "bucket", key: "a/b/c" } */
export interface S3Location {
  bucket: string;
  key: string;
}

export function parseS3Uri(uri: string): S3Location | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m || m[2].split('/').some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return { bucket: m[1], key: m[2] };
}

/** A checkpoint directory uri "s3://bucket/<prefix>/<id>" → the store's bucket, prefix and id. */
export function parseCheckpointUri(uri: string): { bucket: string; prefix: string; id: string } | undefined {
  const loc = parseS3Uri(uri.replace(/\/+$/, ''));
  if (!loc) return undefined;
  const i = loc.key.lastIndexOf('/');
  return { bucket: loc.bucket, prefix: i < 0 ? '' : loc.key.slice(0, i), id: loc.key.slice(i + 1) };
}
