/**
 * A finetune's or eval's source, resolved to one COMPLETE checkpoint at submission (the run pins
 * it through runs.source_checkpoint_id):
 *   {runId, checkpoint: 'latest'}  the highest-step COMPLETE checkpoint of that run
 *   {runId, checkpoint: 'best'}    lowest metrics.loss (pretrain source) or highest metrics.top1
 *                                  (finetune/eval source); the latest when none has the metric
 *   {runId, checkpoint: <uuid>}    that checkpoint, if it is a COMPLETE one of that run
 *   {uri: 's3://<bucket>/imports/<team>/…/x.safetensors'}  an imported weights file in the caller's
 *                                  own import area (POST /v1/imports): it must exist; a checkpoint
 *                                  row {runId: null, step: 0, COMPLETE} is made or reused
 *   {uri: 's3://<bucket>/runs/<run>/checkpoints/<id>[/model.safetensors]}  a run's checkpoint by
 *                                  address: resolved to its row, with the same team check as runId
 * The source run must belong to the caller's team; otherwise it "does not exist" (no leak). Any
 * other address (another team's import area, a run prefix that is not a checkpoint, any other key)
 * is refused before S3 is asked anything, so a refusal never tells whether an object exists.
 */
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CheckpointStatus, type Db } from '@cim-forge/db';
import { badRequest, unavailable } from '../http-error.ts';
import { isUniqueViolation } from '../prisma-errors.ts';
import { importPrefix, isInImportArea, parseS3Uri } from '@cim-forge/storage';
import { MAX_IMPORT_BYTES } from '../imports/import-area.ts';

export type SourceRequest = { runId?: string; checkpoint?: string; uri?: string };

export interface ResolvedSource {
  /** null only when validating an import whose row does not exist yet */
  checkpointId: string | null;
  /** the run that wrote the checkpoint; null for an imported file */
  runId: string | null;
  step: number;
  uri: string;
}

export interface SourceContext {
  db: Db;
  s3: { client: S3Client; bucket: string };
  teamId: string;
  /** false: resolve without writing (validateOnly) */
  write: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface CandidateCheckpoint {
  id: string;
  step: number;
  uri: string;
  metrics: unknown;
}

function metric(c: CandidateCheckpoint, ...names: string[]): number | undefined {
  const m = c.metrics as Record<string, unknown> | null;
  for (const n of names) {
    const v = m?.[n];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** the best of a run's COMPLETE checkpoints (sorted by step, newest first) */
export function pickBest(sourceKind: string, complete: CandidateCheckpoint[]): CandidateCheckpoint {
  const pretrain = sourceKind === 'pretrain';
  let best: CandidateCheckpoint | undefined;
  let bestValue = 0;
  for (const c of complete) {
    const v = pretrain ? metric(c, 'loss') : metric(c, 'top1', 'val/top1');
    if (v === undefined) continue;
    if (best === undefined || (pretrain ? v < bestValue : v > bestValue)) {
      best = c;
      bestValue = v;
    }
  }
  return best ?? complete[0];
}

async function fromRun(ctx: SourceContext, runId: string, which: string): Promise<ResolvedSource> {
  if (!UUID.test(runId)) throw badRequest(`body/source/runId must be a uuid, got "${runId}"`);
  if (which !== 'latest' && which !== 'best' && !UUID.test(which)) {
    throw badRequest(`body/source/checkpoint must be "latest", "best" or a checkpoint id, got "${which}"`);
  }
  const run = await ctx.db.run.findFirst({ where: { id: runId, teamId: ctx.teamId }, select: { id: true, kind: true } });
  if (!run) throw badRequest(`source run ${runId} not found`);
  const complete = await ctx.db.checkpoint.findMany({
    where: { runId, status: CheckpointStatus.COMPLETE },
    orderBy: [{ step: 'desc' }, { completedAt: 'desc' }],
    select: { id: true, step: true, uri: true, metrics: true },
  });
  if (complete.length === 0) throw badRequest(`source run ${runId} has no COMPLETE checkpoint`);
  let chosen: CandidateCheckpoint | undefined;
  if (which === 'latest') chosen = complete[0];
  else if (which === 'best') chosen = pickBest(run.kind, complete);
  else {
    chosen = complete.find((c) => c.id === which.toLowerCase());
    if (!chosen) throw badRequest(`checkpoint ${which} is not a COMPLETE checkpoint of run ${runId}`);
  }
  return { checkpointId: chosen.id, runId, step: chosen.step, uri: chosen.uri };
}

/** runs/<run id>/checkpoints/<checkpoint dir>, optionally /model.safetensors */
const RUN_CHECKPOINT_KEY = /^runs\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/checkpoints\/([^/]+)(?:\/model\.safetensors)?$/i;

/** A run's checkpoint named by its address: the row, if it is one of the caller's team's runs. */
async function fromCheckpointUri(ctx: SourceContext, uri: string, bucket: string, runId: string, dir: string): Promise<ResolvedSource> {
  const dirUri = `s3://${bucket}/runs/${runId.toLowerCase()}/checkpoints/${dir}`;
  const row = await ctx.db.checkpoint.findFirst({
    where: { uri: dirUri, runId: runId.toLowerCase(), run: { teamId: ctx.teamId } },
    select: { id: true, runId: true, step: true, uri: true, status: true },
  });
  // another team's checkpoint and no checkpoint at all read the same
  if (!row) throw badRequest(`source uri ${uri} is not a checkpoint of any of your team's runs`);
  if (row.status !== CheckpointStatus.COMPLETE) throw badRequest(`source uri ${uri} is a checkpoint that is not COMPLETE`);
  return { checkpointId: row.id, runId: row.runId, step: row.step, uri: row.uri };
}

async function fromUri(ctx: SourceContext, uri: string): Promise<ResolvedSource> {
  const loc = parseS3Uri(uri);
  if (!loc || loc.bucket !== ctx.s3.bucket) throw badRequest(`body/source/uri must be s3://${ctx.s3.bucket}/<key>, got "${uri}"`);
  const checkpoint = RUN_CHECKPOINT_KEY.exec(loc.key);
  if (checkpoint) return fromCheckpointUri(ctx, uri, loc.bucket, checkpoint[1], checkpoint[2]);
  if (!isInImportArea(loc.key, ctx.teamId)) {
    throw badRequest(
      `body/source/uri must be a .safetensors file in your team's import area s3://${ctx.s3.bucket}/${importPrefix(ctx.teamId)}… ` +
        `(upload with POST /v1/imports) or a checkpoint of one of your runs (s3://${ctx.s3.bucket}/runs/<run>/checkpoints/<id>), got "${uri}"`,
    );
  }
  let bytes: number;
  try {
    bytes = (await ctx.s3.client.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }))).ContentLength ?? 0;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) {
      throw badRequest(`source uri ${uri} does not exist`);
    }
    throw unavailable(`could not check source uri ${uri}: the object store did not answer; retry later`, err);
  }
  if (bytes > MAX_IMPORT_BYTES) throw badRequest(`source uri ${uri} is ${bytes} bytes; imports may be at most ${MAX_IMPORT_BYTES}`);
  const select = { id: true, runId: true, step: true, uri: true, status: true } as const;
  let row = await ctx.db.checkpoint.findUnique({ where: { uri }, select });
  if (!row && ctx.write) {
    try {
      row = await ctx.db.checkpoint.create({
        data: { runId: null, uri, step: 0, status: CheckpointStatus.COMPLETE, completedAt: new Date() },
        select,
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      row = await ctx.db.checkpoint.findUnique({ where: { uri }, select });
    }
  }
  if (row && row.status !== CheckpointStatus.COMPLETE) throw badRequest(`source uri ${uri} is a checkpoint that is not COMPLETE`);
  return row ? { checkpointId: row.id, runId: row.runId, step: row.step, uri } : { checkpointId: null, runId: null, step: 0, uri };
}

export async function resolveSource(ctx: SourceContext, source: SourceRequest): Promise<ResolvedSource> {
  const byRun = source.runId !== undefined || source.checkpoint !== undefined;
  if (byRun && source.uri !== undefined) throw badRequest('body/source takes either {runId, checkpoint} or {uri}, not both');
  if (source.uri !== undefined) return fromUri(ctx, source.uri);
  if (source.runId === undefined || source.checkpoint === undefined) {
    throw badRequest('body/source needs both runId and checkpoint (or a uri)');
  }
  return fromRun(ctx, source.runId, source.checkpoint);
}
