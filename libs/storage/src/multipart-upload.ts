/**
 * One object through S3 multipart upload: CreateMultipartUpload, UploadPart × ⌈size / partSize⌉
 * with at most `queueSize` in flight, CompleteMultipartUpload. On any failure the upload is
 * aborted (best effort, so S3 keeps no billed parts) and the ORIGINAL error is rethrown; an abort
 * that fails too is attached to it as `abortError`, never masking why the upload failed.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';

export interface MultipartUploadParams {
  client: S3Client;
  bucket: string;
  key: string;
  body: Uint8Array;
  /** bytes per part; S3 needs ≥ 5 MiB for all but the last, and at most 10 000 parts */
  partSize: number;
  queueSize: number;
  contentType?: string;
}

const MAX_PARTS = 10_000;

export async function multipartUpload(p: MultipartUploadParams): Promise<void> {
  const partCount = Math.max(1, Math.ceil(p.body.byteLength / p.partSize));
  if (partCount > MAX_PARTS) {
    throw new Error(
      `${p.key}: ${p.body.byteLength} B in ${p.partSize} B parts is ${partCount} parts, over S3's ${MAX_PARTS}; raise partSize`,
    );
  }
  const created = await p.client.send(new CreateMultipartUploadCommand({ Bucket: p.bucket, Key: p.key, ContentType: p.contentType }));
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error(`${p.key}: CreateMultipartUpload returned no UploadId`);

  const parts: CompletedPart[] = new Array(partCount);
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < partCount) {
      const i = next++;
      const start = i * p.partSize;
      try {
        const res = await p.client.send(
          new UploadPartCommand({
            Bucket: p.bucket,
            Key: p.key,
            UploadId: uploadId,
            PartNumber: i + 1, // 1-based
            Body: p.body.subarray(start, Math.min(start + p.partSize, p.body.byteLength)),
          }),
        );
        parts[i] = { PartNumber: i + 1, ETag: res.ETag };
      } catch (err) {
        failure ??= err;
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(p.queueSize, partCount) }, worker));
    if (failure !== undefined) throw failure;
    await p.client.send(
      new CompleteMultipartUploadCommand({ Bucket: p.bucket, Key: p.key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
    );
  } catch (err) {
    try {
      await p.client.send(new AbortMultipartUploadCommand({ Bucket: p.bucket, Key: p.key, UploadId: uploadId }));
    } catch (abortErr) {
      // a bucket lifecycle rule (AbortIncompleteMultipartUpload) cleans up what this leaves
      if (err instanceof Error) (err as Error & { abortError?: unknown }).abortError = abortErr;
    }
    throw err;
  }
}
