/**
 * Thrown when a checkpoint file is missing or its bytes differ from the manifest (sha256 or size),
 * so a resume can fall back to the previous complete checkpoint and record why.
 */
export class CheckpointCorruptError extends Error {
  readonly code = 'CHECKPOINT_CORRUPT';

  constructor(
    readonly checkpointId: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`checkpoint ${checkpointId}: ${file} is corrupt (${reason})`);
    this.name = 'CheckpointCorruptError';
  }
}
