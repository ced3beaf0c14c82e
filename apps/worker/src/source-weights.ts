/**
 * A finetune's or eval's source weights, read for the rank that will train on them, checked again
 * against the run's team whatever the API accepted: a run checkpoint's model.safetensors (against
 * its manifest's sha256) only when that run is the same team's, an imported file only from the
 * team's own import area (s3://<bucket>/imports/<team>/…).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { importPrefix, isInImportArea, parseCheckpointUri, parseS3Uri, S3CheckpointStore } from '@cim-forge/storage';
import { RunError } from './run-error.ts';

export interface SourceCheckpointRef {
  uri: string;
  /** the run that wrote it; null for an imported file */
  runId: string | null;
  /** that run's team; null for an imported file */
  runTeamId: string | null;
}

export interface SourceReader {
  client: S3Client;
  /** the service's bucket: sources come from nowhere else */
  bucket: string;
  /** the team of the run that reads the source */
  teamId: string;
}

export async function readSourceWeights(r: SourceReader, source: SourceCheckpointRef): Promise<Uint8Array> {
  if (source.runId !== null) {
    // the same words for another team's checkpoint and a missing one: nothing about it leaks
    const refused = () => new RunError(`source checkpoint ${source.uri} is not a checkpoint of the team's runs`);
    if (source.runTeamId !== r.teamId) throw refused();
    const c = parseCheckpointUri(source.uri);
    if (!c || c.bucket !== r.bucket || c.prefix !== `runs/${source.runId}/checkpoints`) throw refused();
    return new S3CheckpointStore({ client: r.client, bucket: c.bucket, prefix: c.prefix }).read(c.id, 'model.safetensors');
  }
  const loc = parseS3Uri(source.uri);
  if (!loc || loc.bucket !== r.bucket || !isInImportArea(loc.key, r.teamId)) {
    throw new RunError(`source uri ${source.uri} is not in the team's import area s3://${r.bucket}/${importPrefix(r.teamId)}`);
  }
  try {
    const res = await r.client.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    return await res.Body!.transformToByteArray();
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) throw new RunError(`source uri ${source.uri} no longer exists`);
    throw err;
  }
}
