/** POST /v1/teams (admin). */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { conflict } from '../http-error.ts';
import { isUniqueViolation } from '../prisma-errors.ts';
import { IsoTime, Uuid, bearer, errors } from '../schemas/common.ts';

const Team = Type.Object({ id: Uuid, name: Type.String(), createdAt: IsoTime });

const teamRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/teams',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: 'Create a team (admin)',
        tags: ['admin'],
        security: bearer,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]*$' }) },
          { additionalProperties: false },
        ),
        response: { 201: Team, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      try {
        const team = await app.services.db.team.create({ data: { name: request.body.name } });
        return reply.status(201).send({ id: team.id, name: team.name, createdAt: team.createdAt.toISOString() });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`a team named "${request.body.name}" already exists`);
        throw err;
      }
    },
  );
};

export default teamRoutes;
