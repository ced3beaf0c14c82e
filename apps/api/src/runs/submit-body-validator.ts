/**
 * The POST /v1/runs body check: the envelope (kind, worldSize, source, …) with TypeBox, then
 * `config` with the run contract's schema for that kind (libs/config), so a field is judged by the
 * kind it belongs to and the error names it ("body/config/modelOverrides/depth must be <= 48").
 * The route's documented schema is the union of every kind's config (OpenAPI shows every field).
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { Type } from 'typebox';
import { RUN_KINDS, datasetRootProblem, runConfigInputSchemas, schemaErrors, type RunKind, type SchemaError } from '@cim-forge/config';
import { SubmitRunBody } from '../schemas/run.ts';

/** the envelope alone: `config` is any object here and checked by kind below */
const Envelope = Type.Object(
  { ...SubmitRunBody.properties, config: Type.Optional(Type.Object({}, { additionalProperties: true })) },
  { additionalProperties: false },
);

export function checkSubmitBody(value: unknown): { value: unknown } | { error: SchemaError[] } {
  const envelope = schemaErrors(Envelope, value);
  if (envelope.length) return { error: envelope };
  const body = value as { kind: RunKind; config?: unknown };
  if (body.config !== undefined && (RUN_KINDS as readonly string[]).includes(body.kind)) {
    const errors = schemaErrors(runConfigInputSchemas[body.kind], body.config);
    if (errors.length) return { error: errors.map((e) => ({ ...e, instancePath: `/config${e.instancePath}` })) };
    const roots = imageFolderRootErrors(body.config as Record<string, unknown>);
    if (roots.length) return { error: roots };
  }
  return { value };
}

/** An image folder's root must be a plain path inside the team's data area (libs/config dataset-root.ts). */
function imageFolderRootErrors(config: Record<string, unknown>): SchemaError[] {
  const errors: SchemaError[] = [];
  for (const [key, spec] of Object.entries(config)) {
    if (!spec || typeof spec !== 'object' || (spec as { kind?: unknown }).kind !== 'image-folder') continue;
    const problem = datasetRootProblem((spec as { root?: unknown }).root);
    if (problem) errors.push({ keyword: 'datasetRoot', instancePath: `/config/${key}/root`, schemaPath: '#/dataset-root', message: problem, params: {} });
  }
  return errors;
}

/** a route-level validator compiler: the body as above, every other part with `fallback` */
export function submitRunValidatorCompiler(fallback: FastifySchemaCompiler<TSchema>): FastifySchemaCompiler<TSchema> {
  return (route) => (route.httpPart === 'body' ? checkSubmitBody : fallback(route));
}
