/** POST /v1/imports: a presigned PUT into the team's import area, for weights a team brings. */
import { randomUUID } from 'node:crypto';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { forbidden } from '../http-error.ts';
import { importKey } from '@cim-forge/storage';
import { IMPORT_NAME_PATTERN, MAX_IMPORT_BYTES } from '../imports/import-area.ts';
import { IsoTime, bearer, errors } from '../schemas/common.ts';

const ImportUpload = Type.Object({
  uri: Type.String({ description: 'pass it as source.uri of a finetune or eval run once the upload is done' }),
  uploadUrl: Type.String({ description: 'a presigned URL: PUT the file there with exactly `bytes` bytes' }),
  method: Type.Literal('PUT'),
  headers: Type.Object({ 'content-length': Type.String() }, { description: 'headers the PUT must carry' }),
  bytes: Type.Integer(),
  expiresAt: IsoTime,
});

const importRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
        response: { 201: ImportUpload, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const teamId = request.principal!.teamId;
      if (teamId === null) throw forbidden('imports belong to a team: use a team token (this admin token has no team)');
      const { s3, presignSeconds } = app.services;
      const key = importKey(teamId, randomUUID(), request.body.name);
      const put = new PutObjectCommand({ Bucket: s3.bucket, Key: key, ContentLength: request.body.bytes });
      // content-length is signed: a PUT of any other size is refused by S3
      const uploadUrl = await getSignedUrl(s3.client, put, { expiresIn: presignSeconds, signableHeaders: new Set(['content-length']) });
      return reply.status(201).send({
        uri: `s3://${s3.bucket}/${key}`,
        uploadUrl,
        method: 'PUT' as const,
        headers: { 'content-length': String(request.body.bytes) },
        bytes: request.body.bytes,
        expiresAt: new Date(Date.now() + presignSeconds * 1000).toISOString(),
      });
    },
  );
};

export default importRoutes;
