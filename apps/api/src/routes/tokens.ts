/** POST /v1/tokens (admin): a team token, or an admin token with {admin: true}. Shown once. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { generateToken, hashToken, tokenPrefix } from '../api-token.ts';
import { badRequest, notFound } from '../http-error.ts';
import { IsoTime, Nullable, Uuid, bearer, errors } from '../schemas/common.ts';

const CreatedToken = Type.Object({
  id: Uuid,
  token: Type.String({ description: 'the secret: shown this once, stored only as its sha256' }),
  prefix: Type.String({ description: 'its first 12 characters, to tell tokens apart' }),
  teamId: Nullable(Uuid),
  admin: Type.Boolean(),
  name: Nullable(Type.String()),
  createdAt: IsoTime,
});

const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/tokens',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: 'Create an API token (admin)',
        description: 'Give teamId for a team token; {admin: true} (optionally with a teamId) for an admin token.',
        tags: ['admin'],
        security: bearer,
        body: Type.Object(
          {
            teamId: Type.Optional(Uuid),
            admin: Type.Optional(Type.Boolean()),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedToken, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { db } = app.services;
      const { teamId, admin = false, name } = request.body;
      if (teamId === undefined && !admin) throw badRequest('body needs a teamId (a team token) or admin: true');
      if (teamId !== undefined && !(await db.team.findUnique({ where: { id: teamId }, select: { id: true } }))) {
        throw notFound(`team ${teamId} not found`);
      }
      const token = generateToken();
      const row = await db.apiToken.create({
        data: { teamId: teamId ?? null, admin, name: name ?? null, tokenHash: hashToken(token), prefix: tokenPrefix(token) },
      });
      return reply.status(201).send({
        id: row.id,
        token,
        prefix: row.prefix,
        teamId: row.teamId,
        admin: row.admin,
        name: row.name,
        createdAt: row.createdAt.toISOString(),
      });
    },
  );
};

export default tokenRoutes;
