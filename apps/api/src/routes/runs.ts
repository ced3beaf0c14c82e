/** Submit, list, read and cancel runs. */
import { Type, TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Prisma } from '@cim-forge/db';
import { Nullable, RunIdParams, StringEnum, bearer, errors } from '../schemas/common.ts';
import { RUN_KINDS, RUN_STATUSES, Run, SubmitRunBody, ValidatedRun } from '../schemas/run.ts';
import { cancelRun } from '../runs/cancel-run.ts';
import { decodeRunCursor, encodeRunCursor } from '../runs/run-cursor.ts';
import { runInclude, toRunResource } from '../runs/run-resource.ts';
import { submitRun } from '../runs/submit-run.ts';
import { submitRunValidatorCompiler } from '../runs/submit-body-validator.ts';
import { findVisibleRun, visibleRunsWhere } from '../runs/visible-run.ts';

const runRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/runs',
    {
      validatorCompiler: submitRunValidatorCompiler(TypeBoxValidatorCompiler),
      schema: {
        summary: 'Submit a run (or validate one with validateOnly)',
        description:
          'The config is resolved with the config lib (preset, then the submitted fields) and stored resolved. ' +
          'finetune and eval runs need a source, resolved now and pinned. With an Idempotency-Key header the same ' +
          'key from the same team returns the run it first made (200) instead of a second one.',
        tags: ['runs'],
        security: bearer,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })) }),
        body: SubmitRunBody,
        response: {
          201: Run,
          200: Type.Union([Run, ValidatedRun], { description: 'the run an Idempotency-Key already made, or a validateOnly result' }),
          ...errors(400, 401, 403, 413, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const out = await submitRun(app.services, request.principal!, request.body, request.headers['idempotency-key']);
      // no team label: the API's /metrics is on its public port (issue 13)
      if (out.statusCode === 201 && 'run' in out) app.apiMetrics.runsSubmitted.inc({ kind: out.run.kind });
      return reply.status(out.statusCode).send('run' in out ? out.run : out.validated);
    },
  );

  app.get(
    '/runs',
    {
      schema: {
        summary: 'List runs, newest first',
        description: 'A team sees its own runs, an admin every run. Pass nextCursor back as cursor for the next page.',
        tags: ['runs'],
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(StringEnum(RUN_STATUSES)),
            kind: Type.Optional(StringEnum(RUN_KINDS)),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'runs whose name contains this, ignoring case' })),
            sweepId: Type.Optional(Type.String({ format: 'uuid', description: "a sweep's trials" })),
            sourceRunId: Type.Optional(
              Type.String({
                format: 'uuid',
                description: "runs whose pinned source checkpoint is this run's (its fine-tunes or evaluations)",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ runs: Type.Array(Run), nextCursor: Nullable(Type.String()) }), ...errors(400, 401) },
      },
    },
    async (request) => {
      const { status, kind, cursor, name, sourceRunId, sweepId } = request.query;
      const limit = request.query.limit ?? 50;
      const where: Prisma.RunWhereInput = {
        ...visibleRunsWhere(request.principal!),
        ...(status ? { status } : {}),
        ...(kind ? { kind } : {}),
        ...(name ? { name: { contains: name, mode: 'insensitive' as const } } : {}),
        ...(sourceRunId ? { sourceCheckpoint: { runId: sourceRunId } } : {}),
        ...(sweepId ? { sweepId } : {}),
      };
      if (cursor !== undefined) {
        const c = decodeRunCursor(cursor);
        where.OR = [{ createdAt: { lt: c.createdAt } }, { createdAt: c.createdAt, id: { lt: c.id } }];
      }
      const rows = await app.services.db.run.findMany({
        where,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
        include: runInclude,
      });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return { runs: page.map(toRunResource), nextCursor: rows.length > limit ? encodeRunCursor(last) : null };
    },
  );

  app.get(
    '/runs/:id',
    {
      schema: {
        summary: 'One run',
        tags: ['runs'],
        security: bearer,
        params: RunIdParams,
        response: { 200: Run, ...errors(400, 401, 404) },
      },
    },
    async (request) => toRunResource(await findVisibleRun(app.services.db, request.principal!, request.params.id)),
  );

  app.post(
    '/runs/:id/cancel',
    {
      schema: {
        summary: 'Cancel a queued or running run',
        description:
          'Sets CANCELLED, drops the waiting queue job and tells controllers and workers to stop its ranks. A finished run is a 409.',
        tags: ['runs'],
        security: bearer,
        params: RunIdParams,
        response: { 202: Run, ...errors(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      const run = await cancelRun(app.services, request.principal!, request.params.id, request.log);
      return reply.status(202).send(run);
    },
  );
};

export default runRoutes;
