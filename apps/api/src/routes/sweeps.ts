/** Submit, list, read and cancel sweeps (issue 22); the live feed is GET /v1/sweeps/:id/stream (routes/streams.ts). */
import { Type, TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { schemaErrors, type SchemaError } from '@cim-forge/config';
import type { Prisma } from '@cim-forge/db';
import { Nullable, RunIdParams, StringEnum, bearer, errors } from '../schemas/common.ts';
import { SWEEP_STATUSES, SubmitSweepBody, Sweep, SweepBaseRun, SweepSummary, ValidatedSweep } from '../schemas/sweep.ts';
import { checkSubmitBody } from '../runs/submit-body-validator.ts';
import { decodeRunCursor, encodeRunCursor } from '../runs/run-cursor.ts';
import { submitSweep } from '../sweeps/submit-sweep.ts';
import { cancelSweep } from '../sweeps/cancel-sweep.ts';
import { findVisibleSweep, toSweepResource, toSweepSummary, visibleSweepsWhere } from '../sweeps/sweep-resource.ts';

/** the envelope: base.config is any object here and checked by the base's kind (as POST /v1/runs does) */
const Envelope = Type.Object(
  {
    ...SubmitSweepBody.properties,
    base: Type.Object({ ...SweepBaseRun.properties, config: Type.Optional(Type.Object({}, { additionalProperties: true })) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

export function checkSweepBody(value: unknown): { value: unknown } | { error: SchemaError[] } {
  const envelope = schemaErrors(Envelope, value);
  if (envelope.length) return { error: envelope };
  const base = checkSubmitBody((value as { base: unknown }).base);
  if ('error' in base) return { error: base.error.map((e) => ({ ...e, instancePath: `/base${e.instancePath}` })) };
  return { value };
}

const sweepValidatorCompiler =
  (fallback: FastifySchemaCompiler<TSchema>): FastifySchemaCompiler<TSchema> =>
  (route) =>
    route.httpPart === 'body' ? checkSweepBody : fallback(route);

const sweepRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/sweeps',
    {
      validatorCompiler: sweepValidatorCompiler(TypeBoxValidatorCompiler),
      schema: {
        summary: 'Submit a sweep (or plan one with validateOnly)',
        description:
          'A hyper-parameter search over a base run (a POST /v1/runs body, pretrain or finetune): `space` maps config field names to ' +
          'domains, `algorithm` is grid, random or asha (trials stop at rungs unless in the top 1/η; promoted trials resume from their ' +
          'checkpoint). The base and every trial go through the run submission path (resolution, source pinning, resource limits, the ' +
          "team's quota). validateOnly returns the trial plan, the rungs and the estimated cost; nothing is written. Trials are ordinary runs " +
          '(sweepId, trialIndex) launched by the controller, at most maxConcurrent at once.',
        tags: ['sweeps'],
        security: bearer,
        body: SubmitSweepBody,
        response: {
          201: Sweep,
          200: ValidatedSweep,
          ...errors(400, 401, 403, 413, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const out = await submitSweep(app.services, request.principal!, request.body);
      if (out.statusCode === 200) return reply.status(200).send(out.validated);
      const sweep = await findVisibleSweep(app.services.db, request.principal!, out.sweepId);
      return reply.status(201).send(toSweepResource(sweep));
    },
  );

  app.get(
    '/sweeps',
    {
      schema: {
        summary: 'List sweeps, newest first',
        description: 'A team sees its own sweeps, an admin every sweep. Pass nextCursor back as cursor for the next page.',
        tags: ['sweeps'],
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(StringEnum(SWEEP_STATUSES)),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ sweeps: Type.Array(SweepSummary), nextCursor: Nullable(Type.String()) }), ...errors(400, 401) },
      },
    },
    async (request) => {
      const { status, cursor } = request.query;
      const limit = request.query.limit ?? 50;
      const where: Prisma.SweepWhereInput = { ...visibleSweepsWhere(request.principal!), ...(status ? { status } : {}) };
      if (cursor !== undefined) {
        const c = decodeRunCursor(cursor);
        where.OR = [{ createdAt: { lt: c.createdAt } }, { createdAt: c.createdAt, id: { lt: c.id } }];
      }
      const rows = await app.services.db.sweep.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return { sweeps: page.map(toSweepSummary), nextCursor: rows.length > limit ? encodeRunCursor(last) : null };
    },
  );

  app.get(
    '/sweeps/:id',
    {
      schema: {
        summary: 'One sweep: its trials (params, state, run, rung metrics, stop reason) and the best trial',
        tags: ['sweeps'],
        security: bearer,
        params: RunIdParams,
        response: { 200: Sweep, ...errors(400, 401, 404) },
      },
    },
    async (request) => toSweepResource(await findVisibleSweep(app.services.db, request.principal!, request.params.id)),
  );

  app.post(
    '/sweeps/:id/cancel',
    {
      schema: {
        summary: 'Cancel a running sweep and its live trials',
        description: "CANCELLED, and every queued, running or paused trial's run cancelled. A finished sweep is a 409.",
        tags: ['sweeps'],
        security: bearer,
        params: RunIdParams,
        response: { 202: Sweep, ...errors(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      await cancelSweep(app.services, request.principal!, request.params.id, request.log);
      return reply.status(202).send(toSweepResource(await findVisibleSweep(app.services.db, request.principal!, request.params.id)));
    },
  );
};

export default sweepRoutes;
