/**
 * The run contract: one schema per run kind, used at every process boundary. The API documents
 * and checks a submitted config with `runConfigInputSchemas` (every field optional, applied over a
 * preset); the worker and the controller read a stored config back with `parseRunConfig`, which
 * fills defaults a config saved by an older version lacks, checks every bound, then the
 * cross-field rules of the config lib — instead of casting.
 */
import { Type, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { resolveEvalConfig, type EvalConfig } from '../eval-config.ts';
import { resolveFinetuneConfig, type FinetuneConfig } from '../finetune-config.ts';
import { validatePretrainConfig, type PretrainConfig } from '../pretrain-config.ts';
import { EvalConfigSchema } from './eval-schema.ts';
import { FinetuneConfigSchema } from './finetune-schema.ts';
import { PretrainConfigSchema } from './pretrain-schema.ts';
import { explainErrors, schemaErrorMessage, setBranchErrors, type SchemaError } from './schema-parts.ts';

/** the run kinds (prisma/schema.prisma's RunKind holds the same three) */
export const RUN_KINDS = ['pretrain', 'finetune', 'eval'] as const;
export type RunKind = (typeof RUN_KINDS)[number];
export interface RunConfigs {
  pretrain: PretrainConfig;
  finetune: FinetuneConfig;
  eval: EvalConfig;
}

export const runConfigSchemas = { pretrain: PretrainConfigSchema, finetune: FinetuneConfigSchema, eval: EvalConfigSchema } as const;

/** initFrom is refused from clients: weights come only from the run's source */
const noInitFrom = Type.Optional(Type.Null({ description: "not accepted (weights come only from the run's source); null or absent" }));

/** what a client may send as `config`: every field optional, over the preset */
export const runConfigInputSchemas = {
  pretrain: Type.Partial(Type.Object({ ...PretrainConfigSchema.properties, initFrom: noInitFrom }), {
    additionalProperties: false,
    description: 'pretrain fields applied over the preset (every field has a default, a minimum and a maximum)',
  }),
  finetune: Type.Partial(Type.Object({ ...FinetuneConfigSchema.properties, initFrom: noInitFrom }), {
    additionalProperties: false,
    description: 'finetune fields applied over the preset',
  }),
  eval: Type.Partial(EvalConfigSchema, { additionalProperties: false, description: 'eval fields applied over the preset' }),
} as const;

/** what a `--config FILE.json` may hold: any of the kind's fields (initFrom too), over the preset and under the flags */
export const runConfigFileSchemas = {
  pretrain: Type.Partial(PretrainConfigSchema, { additionalProperties: false }),
  finetune: Type.Partial(FinetuneConfigSchema, { additionalProperties: false }),
  eval: Type.Partial(EvalConfigSchema, { additionalProperties: false }),
} as const;

const compiled = new Map<TSchema, ReturnType<typeof Compile>>();
function validator(schema: TSchema) {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = Compile(schema)));
  return v;
}

/** Every error TypeBox finds (empty when the value fits). */
export function schemaErrors(schema: TSchema, value: unknown): SchemaError[] {
  const v = validator(schema);
  return v.Check(value) ? [] : explainErrors(schema, value, v.Errors(value) as SchemaError[]);
}
setBranchErrors(schemaErrors);

/** null when `config` is a valid submitted config of `kind`, else the one message (prefixed) to show. */
export function checkRunConfigInput(kind: RunKind, config: unknown, prefix = 'config'): string | null {
  const errors = schemaErrors(runConfigInputSchemas[kind], config);
  return errors.length ? schemaErrorMessage(errors, prefix) : null;
}

/** A `--config` file's fields, checked against the kind's schema; throws an Error naming the field. */
export function parseRunConfigFile<K extends RunKind>(kind: K, value: unknown, prefix = 'config'): Partial<RunConfigs[K]> {
  const errors = schemaErrors(runConfigFileSchemas[kind], value);
  if (errors.length) throw new Error(schemaErrorMessage(errors, prefix));
  return value as Partial<RunConfigs[K]>;
}

/**
 * A stored or received config of `kind`, checked: defaults filled for absent fields, every bound
 * and every cross-field rule checked. Throws an Error naming the field.
 */
export function parseRunConfig<K extends RunKind>(kind: K, value: unknown): RunConfigs[K] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${kind} config: must be an object`);
  const schema = runConfigSchemas[kind];
  const withDefaults = Value.Default(schema, structuredClone(value));
  const errors = schemaErrors(schema, withDefaults);
  if (errors.length) throw new Error(schemaErrorMessage(errors, `${kind} config`));
  switch (kind) {
    case 'pretrain':
      validatePretrainConfig(withDefaults as PretrainConfig);
      return withDefaults as RunConfigs[K];
    case 'finetune': {
      // an absent warm-up is the run's share (defaultWarmupEpochs), not the schema's 5 epochs
      const given = (value as { warmupEpochs?: unknown }).warmupEpochs;
      const c = withDefaults as Partial<FinetuneConfig>;
      return resolveFinetuneConfig(given === undefined ? { ...c, warmupEpochs: undefined } : c) as RunConfigs[K];
    }
    default:
      return resolveEvalConfig(withDefaults as EvalConfig) as RunConfigs[K];
  }
}
