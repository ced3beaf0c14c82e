/**
 * Draws one figure, in its own process (tfjs and a model never load in the worker's main process,
 * whose event loop keeps BullMQ locks and heartbeats on time):
 * the figure row → the checkpoint's model.safetensors from S3 (sha256-checked) → the image (the
 * run dataset's first held-out image, or the uploaded one) → the figure → its PNG to S3 → the row
 * "ready". A failure on the job's last attempt marks the row "failed" with the reason.
 * The run's image folder is read exactly as its ranks read it: moved into the run's team's data
 * area by `localizeDatasets` (never opened relative to this process's working directory), and a
 * refusal is worded for the team (no path on this worker).
 *
 *   node --import tsx apps/worker/src/figures/figure-runner.ts '{"figureId":"…","final":true}'
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { initBackend, type BackendChoice } from '@cim-forge/cim';
import { parseRunConfig } from '@cim-forge/config';
import { createDb } from '@cim-forge/db';
import { decodeRgb, openSource, type RgbImage } from '@cim-forge/data';
import { evalSourceSpec } from '@cim-forge/engine';
import { createS3Client, figurePngKey, parseCheckpointUri, S3CheckpointStore } from '@cim-forge/storage';
import { RunError } from '../run-error.ts';
import { readServiceEnv } from '../service-env.ts';
import { localizeDatasets, type LocalizedConfig } from '../team-datasets.ts';
import { renderFigure } from './render-figure.ts';
import { processEnv } from '@cim-forge/settings';
import { setDefaultCacheDir } from '@cim-forge/data';

/** uploaded images are scaled down to this side before sampling (the sampler resizes to its search size anyway), px */
const UPLOAD_MAX_SIDE = 1024;

async function main(): Promise<number> {
  // the worker that spawned this runner is gone (kill -9): no one waits for the figure
  process.on('disconnect', () => process.exit(1));
  const args = JSON.parse(process.argv[2] ?? '{}') as { figureId: string; final: boolean };
  const env = readServiceEnv(processEnv(), 'worker');
  const db = createDb(env.databaseUrl, { maxConnections: 2 });
  const s3 = createS3Client(env.s3);
  let data: LocalizedConfig<object> | undefined;
  let uploadToDelete: string | undefined;
  try {
    const fig = await db.figure.findUnique({ where: { id: args.figureId }, include: { run: { select: { config: true, teamId: true } } } });
    if (!fig || fig.status !== 'pending') return 0;
    try {
      // the stored config, parsed with the run contract (a bad one fails the figure, named)
      const config = parseRunConfig('pretrain', fig.run.config);
      const checkpoint = await db.checkpoint.findUnique({ where: { id: fig.checkpointId } });
      if (!checkpoint)
        throw new Error(`checkpoint ${fig.checkpointId} (step ${fig.step}) was removed by retention before its figure was drawn`);
      const where = parseCheckpointUri(checkpoint.uri);
      if (!where) throw new Error(`checkpoint ${fig.checkpointId} has an unparsable uri ${checkpoint.uri}`);
      const modelBytes = await new S3CheckpointStore({ client: s3, bucket: where.bucket, prefix: where.prefix }).read(
        where.id,
        'model.safetensors',
      );
      let image: RgbImage;
      if (fig.source === 'upload') {
        if (!fig.inputKey) throw new Error('an upload figure without its input image');
        const res = await s3.send(new GetObjectCommand({ Bucket: env.s3Bucket, Key: fig.inputKey }));
        image = await decodeRgb(await res.Body!.transformToByteArray(), UPLOAD_MAX_SIDE);
      } else {
        // the team's own data area only, checked as a rank checks it (disk: confined, S3: fetched)
        const localized = await localizeDatasets(config, {
          teamId: fig.run.teamId,
          dataRoot: env.dataRoot,
          dataCache: env.dataCache,
          dataMaxBytes: env.dataMaxBytes,
          s3: { client: s3, bucket: env.s3Bucket },
        });
        data = localized;
        const source = await openSource(evalSourceSpec(localized.config.dataset, 1));
        image = await source.get(0);
      }
      setDefaultCacheDir(env.cacheDir);
      await initBackend(env.backend as BackendChoice, undefined, { webgpuAdapter: env.webgpuAdapter });
      const { png, iou } = await renderFigure({ modelBytes, config, image, source: checkpoint.uri });
      const meta = await sharp(png).metadata();
      const key = figurePngKey(fig.runId, fig.id);
      await s3.send(new PutObjectCommand({ Bucket: env.s3Bucket, Key: key, Body: png, ContentType: 'image/png' }));
      await db.figure.update({
        where: { id: fig.id },
        data: { status: 'ready', key, width: meta.width ?? null, height: meta.height ?? null, error: null, finishedAt: new Date() },
      });
      uploadToDelete = fig.inputKey ?? undefined;
      console.log(
        JSON.stringify({
          figure: fig.id,
          step: fig.step,
          source: fig.source,
          width: meta.width,
          height: meta.height,
          bytes: png.length,
          iou,
        }),
      );
      return 0;
    } catch (e) {
      const message = figureErrorMessage(e, env.dataRoot, env.dataCache);
      if (args.final) {
        await db.figure.update({ where: { id: fig.id }, data: { status: 'failed', error: message, finishedAt: new Date() } });
        uploadToDelete = fig.inputKey ?? undefined;
      }
      console.error((e as Error).stack ?? message);
      return 1;
    }
  } finally {
    // an uploaded image is kept only until its figure is drawn or has failed for good (the team's
    // uploads take no room in the bucket after that)
    if (uploadToDelete) await s3.send(new DeleteObjectCommand({ Bucket: env.s3Bucket, Key: uploadToDelete })).catch(() => {});
    await data?.cleanup().catch(() => {});
    s3.destroy();
    await db.$disconnect().catch(() => {});
  }
}

/**
 * What the figure row says: a RunError or a data-area refusal as it is (worded for the team); any
 * other error's last line with this worker's data paths cut out (a driver or filesystem message
 * must not tell a team where the worker keeps anything).
 */
function figureErrorMessage(e: unknown, ...paths: (string | undefined)[]): string {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof RunError) return message;
  let last = message.trim().split('\n').at(-1) ?? message;
  for (const p of paths) if (p) last = last.split(p).join('<data>');
  return last.replace(/(^|[\s'"(])\/[^\s'"):]+/g, '$1<path>');
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
