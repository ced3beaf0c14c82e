/**
 * One S3 client from one options object. The app reads S3_* once with the settings reader of
 * libs/config (`SettingsReader.s3()`) and passes the values here; this lib never reads env.
 */
import { S3Client } from '@aws-sdk/client-s3';

export interface S3ConnectionOptions {
  /** e.g. "http://127.0.0.1:4569" for s3rver or MinIO; omit for AWS */
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** path-style URLs (http://host/bucket/key): needed by most S3-compatible servers */
  forcePathStyle?: boolean;
  /**
   * 'when_required' (default) sends the SDK's CRC checksums only where S3 demands them, as
   * S3-compatible servers that predate those headers need; 'when_supported' is the SDK default
   * (both pass against s3rver). Integrity is ours either way: every read is checked against sha256.
   */
  checksums?: 'when_required' | 'when_supported';
  maxAttempts?: number;
}

export function createS3Client(options: S3ConnectionOptions): S3Client {
  if (!options.region) throw new Error('S3 region is required (e.g. "us-east-1")');
  if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
    throw new Error('S3 credentials need both an access key id and a secret access key');
  }
  const checksums = options.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  return new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? false,
    credentials:
      options.accessKeyId !== undefined && options.secretAccessKey !== undefined
        ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, sessionToken: options.sessionToken }
        : undefined, // the SDK's default chain (env, profile, IRSA, instance role)
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: options.maxAttempts,
  });
}
