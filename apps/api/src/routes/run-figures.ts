/**
 * A pre-training's correlation-map figures (the paper's figure: exemplars, the context with the
 * true region, the predicted map), rendered by workers, never here (the API does not load tfjs):
 * "heldout" ones at every checkpoint on the dataset's first held-out image, "upload" ones on an
 * image the user sends. The PNGs are in S3; a ready figure's url is a presigned GET.
 */
import { randomUUID } from 'node:crypto';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CheckpointStatus } from '@cim-forge/db';
import { enqueueFigure } from '@cim-forge/queue';
import { figureInputKey } from '@cim-forge/storage';
import { badRequest, conflict, notFound, unavailable } from '../http-error.ts';
import { IsoTime, StringEnum, Uuid, bearer, errors } from '../schemas/common.ts';
import { assertVisibleRun } from '../runs/visible-run.ts';
import { decodeUploadImage, UploadImageError, UPLOAD_BODY_LIMIT, MAX_UPLOAD_BYTES } from '../figures/upload-image.ts';

/** upload figures of one run waiting to be drawn, at most */

const FigureItem = Type.Object({
  id: Uuid,
  checkpointId: Uuid,
  step: Type.Integer(),
  source: StringEnum(['heldout', 'upload'] as const),
  status: StringEnum(['pending', 'ready', 'failed'] as const),
  error: Type.Optional(Type.String()),
  url: Type.Optional(Type.String({ description: 'a presigned GET URL of the PNG (ready figures only)' })),
  width: Type.Optional(Type.Integer({ description: 'PNG width, px (ready figures only)' })),
  height: Type.Optional(Type.Integer({ description: 'PNG height, px (ready figures only)' })),
  createdAt: IsoTime,
});

const figureRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/runs/:id/figures',
    {
      schema: {
        summary: "A pre-training's correlation-map figures, oldest first",
        description:
          'Held-out figures (one per checkpoint, the same image at every step) and uploaded-image figures; a ready one has a presigned url.',
        tags: ['figures'],
        security: bearer,
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Object({ items: Type.Array(FigureItem) }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { db, s3, presignSeconds } = app.services;
      await assertVisibleRun(db, request.principal!, request.params.id);
      const rows = await db.figure.findMany({ where: { runId: request.params.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      const items = await Promise.all(
        rows.map(async (f) => ({
          id: f.id,
          checkpointId: f.checkpointId,
          step: f.step,
          source: f.source as 'heldout' | 'upload',
          status: f.status as 'pending' | 'ready' | 'failed',
          createdAt: f.createdAt.toISOString(),
          ...(f.error ? { error: f.error } : {}),
          ...(f.status === 'ready' && f.key
            ? {
                url: await getSignedUrl(s3.client, new GetObjectCommand({ Bucket: s3.bucket, Key: f.key }), { expiresIn: presignSeconds }),
                ...(f.width !== null && f.height !== null ? { width: f.width, height: f.height } : {}),
              }
            : {}),
        })),
      );
      return { items };
    },
  );

  app.post(
    '/runs/:id/figures',
    {
      bodyLimit: UPLOAD_BODY_LIMIT,
      schema: {
        summary: "Draw a checkpoint's correlation maps on your own image",
        description:
          `A worker draws the figure (202 now; poll GET /v1/runs/:id/figures). image: base64 of a PNG or JPEG, at most ${MAX_UPLOAD_BYTES} bytes ` +
          'decoded (a data: URL prefix is accepted). checkpoint: "latest" or the id of one of the run\'s COMPLETE checkpoints. Pre-training runs only.',
        tags: ['figures'],
        security: bearer,
        params: Type.Object({ id: Uuid }),
        body: Type.Object(
          {
            checkpoint: Type.Union([Type.Literal('latest'), Uuid]),
            image: Type.String({ minLength: 1, maxLength: UPLOAD_BODY_LIMIT }),
          },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ id: Uuid, status: Type.Literal('pending') }), ...errors(400, 401, 404, 409, 413, 503) },
      },
    },
    async (request, reply) => {
      const { db, s3, figuresQueue, figureUploadsPerRun } = app.services;
      const runId = request.params.id;
      await assertVisibleRun(db, request.principal!, runId);
      const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { kind: true } });
      if (run.kind !== 'pretrain') throw badRequest(`figures are drawn for pre-training checkpoints; run ${runId} is a ${run.kind} run`);
      const { checkpoint } = request.body;
      const cp =
        checkpoint === 'latest'
          ? await db.checkpoint.findFirst({ where: { runId, status: CheckpointStatus.COMPLETE }, orderBy: { step: 'desc' } })
          : await db.checkpoint.findFirst({ where: { id: checkpoint, runId } });
      if (!cp) {
        if (checkpoint === 'latest') throw conflict(`run ${runId} has no COMPLETE checkpoint yet`);
        throw notFound(`checkpoint ${checkpoint} not found in run ${runId}`);
      }
      if (cp.status !== CheckpointStatus.COMPLETE)
        throw conflict(`checkpoint ${cp.id} is ${cp.status}; figures need a COMPLETE checkpoint`);
      let image;
      try {
        image = await decodeUploadImage(request.body.image);
      } catch (e) {
        if (e instanceof UploadImageError) throw badRequest(`body/image: ${e.message}`);
        throw e;
      }
      const id = randomUUID();
      const inputKey = figureInputKey(runId, id, image.format);
      // the cap and the row in one transaction under a per-run lock (not a count, then an insert):
      // uploads racing for the last slot queue on the lock, and only figureUploadsPerRun (CIM_FIGURE_UPLOADS_PER_RUN) get one
      const pending = await db.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtext(${`figure-uploads:${runId}`}))::text AS locked`;
        const n = await tx.figure.count({ where: { runId, source: 'upload', status: 'pending' } });
        if (n < figureUploadsPerRun)
          await tx.figure.create({ data: { id, runId, checkpointId: cp.id, step: cp.step, source: 'upload', inputKey } });
        return n;
      });
      if (pending >= figureUploadsPerRun)
        throw conflict(`run ${runId} already has ${pending} uploaded figures waiting to be drawn; try again when they are done`);
      try {
        await s3.client.send(
          new PutObjectCommand({
            Bucket: s3.bucket,
            Key: inputKey,
            Body: image.bytes,
            ContentType: image.format === 'png' ? 'image/png' : 'image/jpeg',
          }),
        );
      } catch (e) {
        // the slot is given back: the row says why it was never drawn
        await db.figure.update({
          where: { id },
          data: { status: 'failed', error: 'the uploaded image could not be stored', finishedAt: new Date() },
        });
        throw e;
      }
      try {
        await enqueueFigure(figuresQueue, id);
      } catch (e) {
        await db.figure.update({
          where: { id },
          data: { status: 'failed', error: 'could not enqueue: the queue did not take the job', finishedAt: new Date() },
        });
        throw unavailable(`figure ${id} could not be queued: the queue did not take the job; retry later`, e);
      }
      return reply.status(202).send({ id, status: 'pending' as const });
    },
  );
};

export default figureRoutes;
