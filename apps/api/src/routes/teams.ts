/** POST /v1/teams (admin), and PATCH /v1/teams/:id (admin): the team's quotas. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PRIORITY_MAX, PRIORITY_MIN } from '@cim-forge/queue';
import { conflict, notFound } from '../http-error.ts';
import { MAX_WORLD_SIZE } from '../schemas/run.ts';
import { isUniqueViolation } from '../prisma-errors.ts';
import { IsoTime, Uuid, bearer, errors } from '../schemas/common.ts';

const quota = (description: string, maximum: number, minimum = 0) =>
  Type.Union([Type.Integer({ minimum, maximum }), Type.Null()], { description: `${description}; null = no limit` });
const Quotas = {
  maxActiveRanks: quota('ranks (GPUs) of its starting and running runs together', 100_000),
  maxQueuedRuns: quota('runs waiting in the queue', 100_000),
  maxPriority: quota('the highest priority its runs may ask for', PRIORITY_MAX, PRIORITY_MIN),
};
const Team = Type.Object({ id: Uuid, name: Type.String(), createdAt: IsoTime, ...Quotas });

type TeamRow = {
  id: string;
  name: string;
  createdAt: Date;
  maxActiveRanks: number | null;
  maxQueuedRuns: number | null;
  maxPriority: number | null;
};
const toTeam = (t: TeamRow) => ({
  id: t.id,
  name: t.name,
  createdAt: t.createdAt.toISOString(),
  maxActiveRanks: t.maxActiveRanks,
  maxQueuedRuns: t.maxQueuedRuns,
  maxPriority: t.maxPriority,
});

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
        return reply.status(201).send(toTeam(team));
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`a team named "${request.body.name}" already exists`);
        throw err;
      }
    },
  );

  app.patch(
    '/teams/:id',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: "Set a team's quotas (admin)",
        description:
          `Submissions over a quota are answered 429 with Retry-After; a priority above maxPriority is a 403. maxActiveRanks counts ` +
          `the worldSize of the team's QUEUED, STARTING, RUNNING and RESTARTING runs (at most ${MAX_WORLD_SIZE} per run).`,
        tags: ['admin'],
        security: bearer,
        params: Type.Object({ id: Uuid }),
        body: Type.Object(
          {
            maxActiveRanks: Type.Optional(Quotas.maxActiveRanks),
            maxQueuedRuns: Type.Optional(Quotas.maxQueuedRuns),
            maxPriority: Type.Optional(Quotas.maxPriority),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Team, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { db } = app.services;
      const found = await db.team.findUnique({ where: { id: request.params.id }, select: { id: true } });
      if (!found) throw notFound(`team ${request.params.id} not found`);
      return toTeam(await db.team.update({ where: { id: found.id }, data: request.body }));
    },
  );
};

export default teamRoutes;
