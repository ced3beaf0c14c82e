/**
 * A sweep's plan from its spec: the search space checked against the base kind's config schema
 * (libs/config's TypeBox schemas are the only list of fields and bounds), the algorithm's defaults
 * filled, the rung budgets in optimizer steps, and every planned trial's parameters, drawn from
 * the seed. `POST /v1/sweeps` and `cim sweep` both call `resolveSweep`; a bad spec throws a
 * `SweepSpecError` naming the field.
 */
import {
  finetuneTrainImages,
  deriveRunPlan,
  parseRunConfig,
  runConfigSchemas,
  schemaErrors,
  schemaErrorMessage,
  type FinetuneConfig,
  type PretrainConfig,
  type SearchDomain,
  type SearchSpace,
  type SweepAlgorithm,
  type SweepMetric,
} from '@cim-forge/config';
import { deriveSeed, Rng } from '@cim-forge/random';
import type { TSchema } from 'typebox';

export type SweepKind = 'pretrain' | 'finetune';
export type SweepBaseConfig = PretrainConfig | FinetuneConfig;
export type ParamValue = number | string | boolean | null;
export type TrialParams = Record<string, ParamValue>;

/** the value of `SweepSearchFields` (libs/config): what a sweep body holds besides its base run */
export interface SweepFields {
  space: SearchSpace;
  algorithm: SweepAlgorithm;
  metric: SweepMetric;
  maxTrials: number;
  maxConcurrent?: number;
}

/** A refused sweep spec: `field` is the path in the body ("space/baseLr", "algorithm/eta"), `reason` one line. */
export class SweepSpecError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'SweepSpecError';
  }
}

export type ResolvedAlgorithm =
  | { name: 'grid' }
  | { name: 'random'; seed: number }
  | { name: 'asha'; seed: number; eta: number; budgetUnit: 'steps' | 'epochs'; gracePeriod: number; maxBudget: number };

export interface PlannedTrial {
  index: number;
  params: TrialParams;
}

export interface ResolvedSweep {
  kind: SweepKind;
  /** the base config the trials apply their params to (the given one, with the notes' changes) */
  baseConfig: SweepBaseConfig;
  space: SearchSpace;
  algorithm: ResolvedAlgorithm;
  metric: SweepMetric;
  maxTrials: number;
  maxConcurrent: number;
  /** the base run's optimizer steps (null: not known before the data is read, e.g. an image folder without a limit) */
  totalSteps: number | null;
  /** absolute optimizer-step budgets of the rungs, increasing; one entry (the whole run) for grid and random */
  rungs: number[];
  /** every planned trial, in order (deterministic from the spec and the seed) */
  trials: PlannedTrial[];
  /** what was changed or assumed, one line each */
  notes: string[];
}

export interface ResolveOptions {
  /** the base run's exact optimizer steps when the caller knows them (the data is read); else derived from the config */
  totalSteps?: number;
  /** the base run's steps per epoch (for budgetUnit epochs) when the caller knows them */
  stepsPerEpoch?: number;
}

/** metrics each kind records every rung (finetune: at every epoch end and at its `stopAtStep`) */
export const SWEEP_METRICS: Record<SweepKind, readonly string[]> = {
  pretrain: ['loss'],
  finetune: ['val_top1', 'val_loss', 'eval_top1', 'eval_loss', 'loss'],
};

/** fields a sweep sets itself, or that name files: never searched */
const RESERVED = new Set(['stopAtStep', 'initFrom']);
/** fields that change a run's length: an asha space may not hold them (its rungs are steps of the base run) */
const LENGTH_FIELDS = new Set(['epochs', 'batchSize', 'accumIter', 'labelsFraction', 'valFraction', 'dataset']);

/** the valFraction set when the metric is a validation metric and the base has none */
export const DEFAULT_VAL_FRACTION = 0.1;

const round12 = (v: number) => Number(v.toPrecision(12));

/** the schema of field `key` ("baseLr", "randAugment.m") of `kind`, or a reason it has none */
export function fieldSchema(kind: SweepKind, key: string): TSchema | string {
  const [head, child] = key.split('.');
  const props = runConfigSchemas[kind].properties as Record<string, TSchema>;
  if (!Object.hasOwn(props, head)) return `${kind} has no config field "${head}"`;
  if (RESERVED.has(head)) return `${head} is set by the sweep itself and cannot be searched`;
  let s = props[head];
  if (child === undefined) return s;
  const obj = branches(s).find((b) => (b as { type?: string }).type === 'object' && (b as { properties?: object }).properties);
  const childProps = (obj as { properties?: Record<string, TSchema> } | undefined)?.properties;
  if (!childProps || !Object.hasOwn(childProps, child)) return `${kind} config field ${head} has no field "${child}"`;
  s = childProps[child];
  return s;
}

/** a schema's alternatives (a Nullable's two), or itself */
function branches(s: TSchema): TSchema[] {
  const any = (s as { anyOf?: TSchema[] }).anyOf;
  return any ? any.flatMap(branches) : [s];
}

function leafTypes(s: TSchema): Set<string> {
  return new Set(
    branches(s).map((b) => {
      const t = (b as { type?: string | string[] }).type;
      return Array.isArray(t) ? t.join('|') : (t ?? 'unknown');
    }),
  );
}

function checkValue(kind: SweepKind, key: string, schema: TSchema, v: unknown, path: string): void {
  const errs = schemaErrors(schema, v);
  if (errs.length) throw new SweepSpecError(path, `${JSON.stringify(v)} is out of ${key}'s bounds (${schemaErrorMessage(errs, key)})`);
}

/** Check one domain against its field; returns the grid points of the domain (undefined: continuous without `grid`). */
function checkDomain(kind: SweepKind, key: string, d: SearchDomain): void {
  const path = `space/${key}`;
  const schema = fieldSchema(kind, key);
  if (typeof schema === 'string') throw new SweepSpecError(path, schema);
  const types = leafTypes(schema);
  const numeric = types.has('number') || types.has('integer');
  const choosable = numeric || types.has('string') || types.has('boolean');
  if (!choosable) throw new SweepSpecError(path, `${key} is not a numeric or choosable field (it is ${[...types].join(' | ')})`);
  if ('choice' in d) {
    d.choice.forEach((v, i) => checkValue(kind, key, schema, v, `${path}/choice/${i}`));
    return;
  }
  if (!numeric) throw new SweepSpecError(path, `${key} is not numeric: use choice`);
  const [lo, hi] = 'uniform' in d ? d.uniform : 'loguniform' in d ? d.loguniform : d.int;
  const name = 'uniform' in d ? 'uniform' : 'loguniform' in d ? 'loguniform' : 'int';
  if ('loguniform' in d && !(lo > 0)) throw new SweepSpecError(`${path}/loguniform`, `low must be > 0, got ${lo}`);
  if (!(lo < hi)) throw new SweepSpecError(`${path}/${name}`, `low must be < high, got [${lo}, ${hi}]`);
  if (name !== 'int' && types.has('integer') && !types.has('number'))
    throw new SweepSpecError(`${path}/${name}`, `${key} is an integer field: use int`);
  checkValue(kind, key, schema, lo, `${path}/${name}/0`);
  checkValue(kind, key, schema, hi, `${path}/${name}/1`);
}

/** every point of a domain for a grid, in order */
function gridPoints(key: string, d: SearchDomain): ParamValue[] {
  if ('choice' in d) return d.choice;
  if ('int' in d) {
    const [lo, hi] = d.int;
    if (hi - lo + 1 > 4096) throw new SweepSpecError(`space/${key}/int`, `${hi - lo + 1} integers are too many for a grid`);
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  }
  const log = 'loguniform' in d;
  const [lo, hi] = log ? d.loguniform : d.uniform;
  const n = d.grid;
  if (n === undefined) throw new SweepSpecError(`space/${key}`, `a continuous domain in a grid needs "grid": the number of points to take`);
  const a = log ? Math.log(lo) : lo;
  const b = log ? Math.log(hi) : hi;
  return Array.from({ length: n }, (_, i) => {
    const t = n === 1 ? 0.5 : i / (n - 1);
    const x = a + t * (b - a);
    return round12(log ? Math.exp(x) : x);
  });
}

/** one random draw from a domain */
function draw(d: SearchDomain, rng: Rng): ParamValue {
  const u = rng.random();
  if ('choice' in d) return d.choice[Math.floor(u * d.choice.length)];
  if ('int' in d) return d.int[0] + Math.floor(u * (d.int[1] - d.int[0] + 1));
  if ('uniform' in d) return round12(d.uniform[0] + u * (d.uniform[1] - d.uniform[0]));
  const [lo, hi] = d.loguniform;
  return round12(Math.exp(Math.log(lo) + u * (Math.log(hi) - Math.log(lo))));
}

/** the space's keys in the order draws and grids use: sorted (a stored JSON object may not keep its order) */
export function spaceKeys(space: SearchSpace): string[] {
  return Object.keys(space).sort();
}

/** trial `index`'s random draw: one stream per (seed, index), keys in spaceKeys order */
export function drawTrial(space: SearchSpace, seed: number, index: number): TrialParams {
  const rng = new Rng(deriveSeed(seed, index, 0x5ee9));
  return Object.fromEntries(spaceKeys(space).map((k) => [k, draw(space[k], rng)]));
}

/** The grid's points, the first key (in spaceKeys order) outermost. */
export function gridTrials(space: SearchSpace): TrialParams[] {
  const keys = spaceKeys(space);
  const axes = keys.map((k) => gridPoints(k, space[k]));
  let out: TrialParams[] = [{}];
  keys.forEach((k, i) => {
    out = out.flatMap((p) => axes[i].map((v) => ({ ...p, [k]: v })));
  });
  return out;
}

/** `baseConfig` with `params` set (dotted keys set a nested field; a nested object is copied, not shared). */
export function applyParams<C extends object>(baseConfig: C, params: TrialParams): C {
  const out = structuredClone(baseConfig) as Record<string, unknown>;
  for (const [key, v] of Object.entries(params)) {
    const [head, child] = key.split('.');
    if (child === undefined) out[head] = v;
    else {
      const parent = out[head];
      out[head] = { ...(typeof parent === 'object' && parent !== null ? parent : {}), [child]: v };
    }
  }
  return out as C;
}

/** the base run's steps and steps per epoch, from the config (the data's size as the config states it) */
function lengthOf(kind: SweepKind, c: SweepBaseConfig): { totalSteps: number | null; stepsPerEpoch: number | null } {
  if (kind === 'finetune') {
    const f = c as FinetuneConfig;
    const images = finetuneTrainImages(f.dataset, f.valFraction, f.labelsFraction);
    if (images === null) return { totalSteps: null, stepsPerEpoch: null };
    const stepsPerEpoch = Math.floor(images / f.batchSize);
    if (stepsPerEpoch < 1) throw new SweepSpecError('base', `the base run has less than one batch of ${f.batchSize}`);
    return { stepsPerEpoch, totalSteps: Math.ceil(f.epochs * stepsPerEpoch) };
  }
  const p = deriveRunPlan('pretrain', c, 1);
  return { totalSteps: p.totalSteps, stepsPerEpoch: p.stepsPerEpoch };
}

/** ASHA's rungs: grace·η^k (rounded, at least 1, increasing) below maxBudget, then maxBudget */
export function ashaRungs(gracePeriod: number, eta: number, maxBudget: number): number[] {
  const rungs: number[] = [];
  for (let k = 0; k < 64; k++) {
    const b = gracePeriod * eta ** k;
    if (b >= maxBudget * (1 - 1e-9)) break;
    const r = Math.max(1, Math.round(b));
    if (r < maxBudget && (rungs.length === 0 || r > rungs.at(-1)!)) rungs.push(r);
  }
  rungs.push(Math.round(maxBudget));
  return rungs;
}

/**
 * The sweep's plan. `baseConfig` is the resolved base run config (preset and overrides applied);
 * `fields` the body's search fields (already checked against `SweepSearchFields`' schema).
 * Throws SweepSpecError for what the schema alone cannot refuse.
 */
export function resolveSweep(kind: SweepKind, baseConfig: SweepBaseConfig, fields: SweepFields, opts: ResolveOptions = {}): ResolvedSweep {
  const notes: string[] = [];
  const { space, metric, maxTrials } = fields;
  const keys = Object.keys(space ?? {});
  if (keys.length === 0) throw new SweepSpecError('space', 'the search space is empty: give at least one config field');
  for (const k of keys) checkDomain(kind, k, space[k]);
  if (!SWEEP_METRICS[kind].includes(metric.name))
    throw new SweepSpecError('metric/name', `${kind} runs do not record "${metric.name}" (known: ${SWEEP_METRICS[kind].join(', ')})`);

  let base = structuredClone(baseConfig);
  if (kind === 'finetune' && metric.name.startsWith('val_') && (base as FinetuneConfig).valFraction === 0 && !('valFraction' in space)) {
    base = { ...base, valFraction: DEFAULT_VAL_FRACTION };
    notes.push(`valFraction set to ${DEFAULT_VAL_FRACTION} because the metric is ${metric.name} and the base has no validation split`);
  }
  if (base.stopAtStep !== null && base.stopAtStep !== undefined) {
    base = { ...base, stopAtStep: null };
    notes.push("the base's stopAtStep was cleared: the sweep sets each trial's");
  }

  const derived = lengthOf(kind, base);
  const totalSteps = opts.totalSteps ?? derived.totalSteps;
  const stepsPerEpoch = opts.stepsPerEpoch ?? derived.stepsPerEpoch;
  const maxConcurrent = fields.maxConcurrent ?? 1;

  const a = fields.algorithm;
  let algorithm: ResolvedAlgorithm;
  let rungs: number[];
  let params: TrialParams[];
  if (a.name === 'grid') {
    algorithm = { name: 'grid' };
    params = gridTrials(space);
    if (params.length > maxTrials)
      throw new SweepSpecError('maxTrials', `the grid has ${params.length} points, more than maxTrials ${maxTrials}`);
    rungs = totalSteps === null ? [] : [totalSteps];
  } else {
    const seed = a.seed ?? 0;
    params = Array.from({ length: maxTrials }, (_, i) => drawTrial(space, seed, i));
    if (a.name === 'random') {
      algorithm = { name: 'random', seed };
      rungs = totalSteps === null ? [] : [totalSteps];
    } else {
      const eta = a.eta ?? 3;
      if (!(eta >= 2)) throw new SweepSpecError('algorithm/eta', `η must be at least 2, got ${eta}`);
      const length = keys.find((k) => LENGTH_FIELDS.has(k.split('.')[0]));
      if (length) throw new SweepSpecError(`space/${length}`, `${length} changes the run's length: asha's rungs are steps of the base run`);
      if (totalSteps === null)
        throw new SweepSpecError('base', "asha needs the base run's length: give the dataset a limit (or the caller the total steps)");
      const unit = a.budgetUnit ?? 'steps';
      const perUnit = unit === 'epochs' ? (stepsPerEpoch ?? NaN) : 1;
      const maxBudget = a.maxBudget === undefined ? totalSteps : Math.round(a.maxBudget * perUnit);
      if (!(maxBudget >= 1)) throw new SweepSpecError('algorithm/maxBudget', `${a.maxBudget} ${unit} is less than one optimizer step`);
      if (maxBudget > totalSteps)
        throw new SweepSpecError(
          'algorithm/maxBudget',
          `${a.maxBudget} ${unit} (${maxBudget} steps) is longer than the base run (${totalSteps} steps)`,
        );
      let grace: number;
      if (a.gracePeriod !== undefined) {
        grace = a.gracePeriod * perUnit;
        if (!(grace >= 0.5)) throw new SweepSpecError('algorithm/gracePeriod', `${a.gracePeriod} ${unit} is less than one optimizer step`);
        if (grace > maxBudget)
          throw new SweepSpecError('algorithm/gracePeriod', `${a.gracePeriod} ${unit} is longer than maxBudget (${maxBudget} steps)`);
      } else {
        // as many rungs as halving the trials allows (at least one trial reaches the top), each at least a step
        let n = 1;
        while (eta ** n <= maxTrials && maxBudget / eta ** n >= 1) n++;
        grace = maxBudget / eta ** (n - 1);
        notes.push(`gracePeriod ${round12(grace / perUnit)} ${unit}: maxBudget / η^${n - 1}`);
      }
      rungs = ashaRungs(grace, eta, maxBudget);
      algorithm = {
        name: 'asha',
        seed,
        eta,
        budgetUnit: unit,
        gracePeriod: round12(grace / perUnit),
        maxBudget: round12(maxBudget / perUnit),
      };
    }
  }
  const trials = params.map((p, index) => ({ index, params: p }));
  // every trial's config must be a valid config of the kind (cross-field rules: warmupEpochs ≤ epochs, …)
  for (const t of trials) {
    try {
      parseRunConfig(kind, applyParams(base, t.params));
    } catch (e) {
      throw new SweepSpecError(
        `space`,
        `trial ${t.index} (${JSON.stringify(t.params)}) is not a valid ${kind} config: ${(e as Error).message}`,
      );
    }
  }
  return {
    kind,
    baseConfig: base,
    space,
    algorithm,
    metric,
    maxTrials,
    maxConcurrent,
    totalSteps,
    rungs,
    trials,
    notes,
  };
}

/** The `stopAtStep` a trial runs to for rung `rung`: null when that rung is the whole run. */
export function stopAtStepFor(resolved: Pick<ResolvedSweep, 'rungs' | 'totalSteps'>, rung: number): number | null {
  const b = resolved.rungs[rung];
  if (b === undefined || (rung === resolved.rungs.length - 1 && (resolved.totalSteps === null || b >= resolved.totalSteps))) return null;
  return b;
}
