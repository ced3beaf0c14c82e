/** A run's checkpoints, and presigned download URLs for their files. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CheckpointStatus } from '@cim-forge/db';
import { S3CheckpointStore } from '@cim-forge/storage';
import { HttpError, conflict, gone, notFound } from '../http-error.ts';
import { IsoTime, JsonObject, Nullable, StringEnum, Uuid, bearer, errors } from '../schemas/common.ts';
import { assertVisibleRun } from '../runs/visible-run.ts';
import { parseCheckpointUri, parseS3Uri } from '@cim-forge/storage';

const Checkpoint = Type.Object({
  id: Uuid,
  step: Type.Integer(),
  epoch: Type.Integer(),
  status: StringEnum(['PENDING', 'COMPLETE'] as const),
  uri: Type.String(),
  manifestDigest: Nullable(Type.String()),
  metrics: Nullable(JsonObject),
  createdAt: IsoTime,
  completedAt: Nullable(IsoTime),
});

const Download = Type.Object({
  url: Type.String({ description: 'a presigned GET URL' }),
  file: Type.String(),
  sha256: Nullable(Type.String({ description: "the manifest's sha256 (hex); null for an imported file, which has no manifest" })),
  bytes: Type.Integer(),
  expiresAt: IsoTime,
});

const checkpointRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/runs/:id/checkpoints',
    {
      schema: {
        summary: "A run's checkpoints, by step",
        description: 'COMPLETE ones only; with all=true the PENDING ones (being written) too.',
        tags: ['artifacts'],
        security: bearer,
        params: Type.Object({ id: Uuid }),
        querystring: Type.Object({ all: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: Type.Object({ checkpoints: Type.Array(Checkpoint) }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { db } = app.services;
      await assertVisibleRun(db, request.principal!, request.params.id);
      const rows = await db.checkpoint.findMany({
        where: { runId: request.params.id, ...(request.query.all ? {} : { status: CheckpointStatus.COMPLETE }) },
        orderBy: { step: 'asc' },
      });
      return {
        checkpoints: rows.map((c) => ({
          id: c.id,
          step: c.step,
          epoch: c.epoch,
          status: c.status,
          uri: c.uri,
          manifestDigest: c.manifestDigest,
          metrics: (c.metrics as Record<string, unknown> | null) ?? null,
          createdAt: c.createdAt.toISOString(),
          completedAt: c.completedAt?.toISOString() ?? null,
        })),
      };
    },
  );

  app.get(
    '/runs/:id/checkpoints/:cid/download',
    {
      schema: {
        summary: 'A presigned download URL for one file of a COMPLETE checkpoint',
        description:
          "The checkpoint must be one of the run's, or the run's pinned source. The file must be in its manifest " +
          '(default model.safetensors); an imported source is a single file, presigned as is.',
        tags: ['artifacts'],
        security: bearer,
        params: Type.Object({ id: Uuid, cid: Uuid }),
        querystring: Type.Object(
          { file: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Download, ...errors(400, 401, 404, 409, 410) },
      },
    },
    async (request) => {
      const { db, s3, presignSeconds } = app.services;
      const { id, cid } = request.params;
      const run = await assertVisibleRun(db, request.principal!, id);
      const cp = await db.checkpoint.findFirst({
        where: { id: cid, OR: [{ runId: id }, ...(run.sourceCheckpointId === cid ? [{ id: cid }] : [])] },
      });
      if (!cp) throw notFound(`checkpoint ${cid} not found in run ${id}`);
      if (cp.status !== CheckpointStatus.COMPLETE)
        throw conflict(`checkpoint ${cid} is ${cp.status}; only COMPLETE checkpoints can be downloaded`);
      const expiresAt = new Date(Date.now() + presignSeconds * 1000).toISOString();

      if (cp.runId === null) {
        const loc = parseS3Uri(cp.uri);
        if (!loc) throw new HttpError(500, `checkpoint ${cid} has an unparsable uri`);
        const name = loc.key.slice(loc.key.lastIndexOf('/') + 1);
        const file = request.query.file ?? name;
        if (file !== name) throw notFound(`imported checkpoint ${cid} has one file: ${name}`);
        const head = await s3.client
          .send(new HeadObjectCommand({ Bucket: loc.bucket, Key: loc.key }))
          .catch((err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
            // the imported object was deleted (or moved) after the run pinned it
            if (err.name === 'NotFound' || err.name === 'NoSuchKey' || err.$metadata?.httpStatusCode === 404)
              throw gone(`imported checkpoint ${cid}'s file ${name} no longer exists in storage`);
            throw err;
          });
        const url = await getSignedUrl(s3.client, new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }), {
          expiresIn: presignSeconds,
        });
        return { url, file, sha256: null, bytes: head.ContentLength ?? 0, expiresAt };
      }

      const where = parseCheckpointUri(cp.uri);
      if (!where) throw new HttpError(500, `checkpoint ${cid} has an unparsable uri`);
      const store = new S3CheckpointStore({ client: s3.client, bucket: where.bucket, prefix: where.prefix });
      const manifest = await store.manifest(where.id);
      if (!manifest) throw notFound(`checkpoint ${cid} has no manifest at ${cp.uri}`);
      const file = request.query.file ?? 'model.safetensors';
      const entry = Object.hasOwn(manifest.files, file) ? manifest.files[file] : undefined;
      if (!entry) throw notFound(`checkpoint ${cid} has no file ${file}; it has: ${Object.keys(manifest.files).join(', ')}`);
      const url = await store.presignedDownloadUrl(where.id, file, presignSeconds);
      return { url, file, sha256: entry.sha256, bytes: entry.bytes, expiresAt };
    },
  );
};

export default checkpointRoutes;
