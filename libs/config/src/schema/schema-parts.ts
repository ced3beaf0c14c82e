/**
 * Building blocks of the run-contract schemas: every number has a minimum and a maximum, every
 * string a length bound, and `schemaErrorMessage` turns TypeBox's error list into the one line a
 * client should read ("config/batchSize must be <= 4096").
 */
import { Type, type Static, type TObject, type TSchema } from 'typebox';
import { Value } from 'typebox/value';

/** largest seed (int32, so every store and every RNG takes it) */
export const MAX_SEED = 2_147_483_647;

export const Int = (minimum: number, maximum: number, options: { description?: string; default?: number } = {}) =>
  Type.Integer({ minimum, maximum, ...options });

export const Num = (
  minimum: number,
  maximum: number,
  options: { description?: string; default?: number; exclusiveMinimum?: number; exclusiveMaximum?: number } = {},
) => Type.Number({ minimum, maximum, ...options });

/** a number in (0, maximum] */
export const PositiveNum = (maximum: number, options: { description?: string; default?: number } = {}) =>
  Type.Number({ exclusiveMinimum: 0, maximum, ...options });

export function Nullable<T extends TSchema>(t: T, options: { description?: string; default?: null | number | object } = {}) {
  return Type.Union([t, Type.Null()], options);
}

/** documents as `{type: string, enum: [...]}` and types as the union */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  message: string;
  params: Record<string, unknown>;
}

/** keywords that only say "some branch failed" */
const VAGUE = new Set(['anyOf', 'oneOf', 'boolean', 'if', 'not']);

/** the value at a JSON pointer ("/a/0/b"; "" = the root), undefined when absent */
function at(root: unknown, pointer: string): unknown {
  let v = root;
  for (const raw of pointer.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/**
 * A union's errors list every branch's complaints (and TypeBox may omit a branch). Keep only the
 * branch that came closest: one whose constants (a dataset's `kind`) match, then the fewest errors,
 * then the first (so `Nullable(x)` reports x's problem, not "must be null"). Nested unions too.
 */
export function explainErrors(schema: TSchema, value: unknown, errors: readonly SchemaError[]): SchemaError[] {
  const hit = errors.map((e) => ({ e, m: /^(.*?)\/anyOf\/\d+(?:\/|$)/.exec(e.schemaPath) })).find((x) => x.m !== null);
  if (!hit) return errors.filter((e) => e.keyword !== 'anyOf');
  const unionPath = hit.m![1];
  // instance segments the union's schema path walks: properties/x, items[/n], additionalProperties
  const segs = unionPath.replace(/^#/, '').split('/').slice(1);
  let depth = 0;
  for (let i = 0; i < segs.length; i++) {
    if (segs[i] === 'properties') {
      i++;
      depth++;
    } else if (segs[i] === 'items') {
      depth++;
      if (/^\d+$/.test(segs[i + 1] ?? '')) i++;
    } else if (segs[i] === 'additionalProperties') depth++;
    else if (segs[i] === 'anyOf') i++;
  }
  const union = {
    schemaPath: unionPath,
    instancePath: hit.e.instancePath
      .split('/')
      .slice(0, depth + 1)
      .join('/'),
  };
  const sub = at(schema, union.schemaPath.replace(/^#/, '')) as { anyOf?: TSchema[] } | undefined;
  const subValue = at(value, union.instancePath);
  if (!sub?.anyOf) return errors.filter((e) => e !== hit.e);
  const scored = sub.anyOf.map((branch, i) => {
    const errs = branchErrors(branch, subValue);
    return { i, errs, score: (errs.some((e) => e.keyword === 'const') ? 1000 : 0) + errs.filter((e) => !VAGUE.has(e.keyword)).length };
  });
  const inside = (e: SchemaError) => e.schemaPath === union.schemaPath || e.schemaPath.startsWith(`${union.schemaPath}/anyOf/`);
  const consts = scored.map((b) => b.errs.find((e) => e.keyword === 'const'));
  if (consts.every((c) => c !== undefined && c.instancePath === consts[0]!.instancePath)) {
    // no branch's discriminator matches (a dataset kind that does not exist): name every alternative
    const allowedValues = consts.map((c) => (c!.params as { allowedValue?: unknown }).allowedValue);
    const e: SchemaError = {
      keyword: 'enum',
      schemaPath: union.schemaPath,
      instancePath: union.instancePath + consts[0]!.instancePath,
      message: 'must be equal to one of the allowed values',
      params: { allowedValues },
    };
    return [...errors.filter((x) => !inside(x)), e];
  }
  const best = scored.sort((a, b) => a.score - b.score || a.i - b.i)[0];
  const replaced = best.errs.map((e) => ({
    ...e,
    schemaPath: union.schemaPath + e.schemaPath.replace(/^#/, ''),
    instancePath: union.instancePath + e.instancePath,
  }));
  return explainErrors(schema, value, [...errors.filter((e) => !inside(e)), ...replaced]);
}

let branchErrors: (schema: TSchema, value: unknown) => SchemaError[] = () => [];
/** set once by the module that compiles schemas (it owns the validator cache) */
export function setBranchErrors(fn: (schema: TSchema, value: unknown) => SchemaError[]): void {
  branchErrors = fn;
}

/**
 * The one error a client should read, as "<prefix><path> <what>": an unknown field first (named),
 * else the first specific error, with allowed values spelled out.
 */
export function schemaErrorMessage(errors: readonly SchemaError[], prefix: string): string {
  const list = [...errors];
  const extra = list.find((e) => e.keyword === 'additionalProperties');
  if (extra) {
    const names = (extra.params as { additionalProperties?: string[] }).additionalProperties ?? ['?'];
    return `${prefix}${extra.instancePath}/${names[0]} is not allowed (unknown field)`;
  }
  const e = list.find((x) => !VAGUE.has(x.keyword)) ?? list[0];
  if (!e) return `${prefix} is invalid`;
  let message = `${prefix}${e.instancePath} ${e.message}`;
  const allowed = (e.params as { allowedValues?: unknown[] } | undefined)?.allowedValues;
  if (e.keyword === 'enum' && allowed) message += `: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  return message;
}

/** `schema` with a default (and a description) for the OpenAPI document and `Value.Default` */
export function withDefault<T extends TSchema>(schema: T, value: unknown, description?: string): T {
  return { ...schema, default: value, ...(description ? { description } : {}) };
}

/**
 * An object schema's defaults as a value: every property must carry one (a field is written once,
 * in its schema, with its default and its bounds). Each call returns a fresh copy.
 */
export function schemaDefaults<T extends TObject>(schema: T): Static<T> {
  const missing = Object.keys(schema.properties).filter((k) => !('default' in (schema.properties[k] as object)));
  if (missing.length) throw new Error(`schema fields without a default: ${missing.join(', ')}`);
  return Value.Default(schema, {}) as Static<T>;
}
