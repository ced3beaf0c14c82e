/**
 * POST /v1/imports: a presigned PUT into the team's import area, for weights a team brings, after a
 * reservation under the team's caps (imports/import-uploads.ts); DELETE /v1/imports/:id gives one
 * back. Abandoned uploads are swept here too: of the asking team before its caps are counted, and
 * of every team every `sweepEveryMs`.
 */
import { randomUUID } from 'node:crypto';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { conflict, forbidden, notFound } from '../http-error.ts';
import { importKey } from '@cim-forge/storage';
import { IMPORT_NAME_PATTERN, MAX_IMPORT_BYTES } from '../imports/import-area.ts';
import { deleteUploadObjects, reserveImport, sweepImports } from '../imports/import-uploads.ts';
import { IsoTime, Uuid, bearer, errors } from '../schemas/common.ts';

const ImportUpload = Type.Object({
  id: Type.String({ format: 'uuid', description: 'the upload; DELETE /v1/imports/:id removes it and frees its share of the caps' }),
  uri: Type.String({ description: 'pass it as source.uri of a finetune or eval run once the upload is done' }),
  uploadUrl: Type.String({ description: 'a presigned URL: PUT the file there with exactly `bytes` bytes' }),
  method: Type.Literal('PUT'),
  headers: Type.Object({ 'content-length': Type.String() }, { description: 'headers the PUT must carry' }),
  bytes: Type.Integer(),
  expiresAt: IsoTime,
});

const importRoutes: FastifyPluginAsyncTypebox<{ sweepEveryMs: number }> = async (app, opts) => {
  const sweepAll = async () => {
    const { db, s3, importSweepGraceMs } = app.services;
    try {
      const r = await sweepImports(db, s3, { graceMs: importSweepGraceMs });
      if (r.stored + r.removed > 0) app.log.info(r, 'import sweep');
    } catch (err) {
      app.log.warn({ err }, 'import sweep failed; the next one retries');
    }
  };
  if (opts.sweepEveryMs > 0) {
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      running ??= sweepAll().finally(() => (running = undefined));
    }, opts.sweepEveryMs);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await running;
    });
  }

  app.post(
    '/imports',
    {
      schema: {
        summary: "An upload URL into the team's import area",
        description:
          'Weights a team brings (e.g. a PyTorch state_dict converted with safetensors.torch.save_file) are uploaded ' +
          'with a presigned PUT to s3://<bucket>/imports/<team>/<upload id>/<name>; finetune and eval runs take them ' +
          "as source.uri. A source uri outside the team's own import area (or its own runs' checkpoints) is refused.",
        tags: ['artifacts'],
        security: bearer,
        body: Type.Object(
          {
            name: Type.String({ pattern: IMPORT_NAME_PATTERN, description: 'the file name, e.g. vit-b16.safetensors' }),
            bytes: Type.Integer({
              minimum: 1,
              maximum: MAX_IMPORT_BYTES,
              description: 'the file size; the PUT must carry exactly this many bytes',
            }),
          },
          { additionalProperties: false },
        ),
        response: { 201: ImportUpload, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const teamId = request.principal!.teamId;
      if (teamId === null) throw forbidden('imports belong to a team: use a team token (this admin token has no team)');
      const { db, s3, presignSeconds, importLimits, importSweepGraceMs } = app.services;
      // this team's abandoned uploads first, so a slot they held is free for this one
      // (best effort: S3 away must not refuse a reservation the caps allow; the periodic sweep retries)
      await sweepImports(db, s3, { graceMs: importSweepGraceMs, teamId, limit: 10 }).catch((err: unknown) =>
        request.log.warn({ err }, 'import sweep before a reservation failed'),
      );
      const id = randomUUID();
      const key = importKey(teamId, id, request.body.name);
      const expiresAt = new Date(Date.now() + presignSeconds * 1000);
      await reserveImport(db, { id, teamId, key, bytes: request.body.bytes, expiresAt }, importLimits);
      const put = new PutObjectCommand({ Bucket: s3.bucket, Key: key, ContentLength: request.body.bytes });
      // content-length is signed: a PUT of any other size is refused by S3
      const uploadUrl = await getSignedUrl(s3.client, put, { expiresIn: presignSeconds, signableHeaders: new Set(['content-length']) });
      return reply.status(201).send({
        id,
        uri: `s3://${s3.bucket}/${key}`,
        uploadUrl,
        method: 'PUT' as const,
        headers: { 'content-length': String(request.body.bytes) },
        bytes: request.body.bytes,
        expiresAt: expiresAt.toISOString(),
      });
    },
  );

  app.delete(
    '/imports/:id',
    {
      schema: {
        summary: 'Delete an import and free its share of the caps',
        description:
          "Deletes the upload's object and its reservation. An upload whose URL has not expired yet is refused (409): " +
          'a PUT may still be on its way. Runs already pinned to the import fail when they read it.',
        tags: ['artifacts'],
        security: bearer,
        params: Type.Object({ id: Uuid }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const teamId = request.principal!.teamId;
      if (teamId === null) throw forbidden('imports belong to a team: use a team token (this admin token has no team)');
      const { db, s3 } = app.services;
      const row = await db.importUpload.findFirst({ where: { id: request.params.id, teamId } });
      if (!row) throw notFound(`import ${request.params.id} not found`);
      if (row.status === 'pending' && row.expiresAt.getTime() > Date.now()) {
        throw conflict(`import ${row.id}'s upload URL is valid until ${row.expiresAt.toISOString()}: delete it after that`);
      }
      await deleteUploadObjects(s3, teamId, row.id);
      await db.importUpload.deleteMany({ where: { id: row.id } });
      return reply.status(204).send(null);
    },
  );
};

export default importRoutes;
