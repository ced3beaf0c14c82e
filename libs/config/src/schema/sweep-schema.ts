/**
 * The sweep contract: a search space over a run kind's config fields, a search algorithm and the
 * metric it optimizes. `POST /v1/sweeps` (apps/api/src/schemas/sweep.ts) and `cim sweep` both take
 * these parts; the base run is an ordinary run body. Cross-field rules (a space key must be a
 * numeric or choosable field of the base kind, a grid must fit `maxTrials`, ...) are checked by
 * libs/sweep, which names the field in each refusal.
 */
import { Type, type Static } from 'typebox';
import { Int, MAX_SEED, Num, StringEnum } from './schema-parts.ts';

export const SWEEP_ALGORITHMS = ['grid', 'random', 'asha'] as const;
export type SweepAlgorithmName = (typeof SWEEP_ALGORITHMS)[number];
export const MAX_SWEEP_TRIALS = 256;
export const MAX_SWEEP_CONCURRENT = 64;
export const MAX_SPACE_KEYS = 16;
/** the most points a continuous domain may be cut into for a grid */
export const MAX_GRID_POINTS = 64;

const Bound = Type.Number({ minimum: -1e12, maximum: 1e12 });
const gridPoints = Type.Optional(
  Int(1, MAX_GRID_POINTS, { description: 'grid search only: this many evenly spaced points (log-spaced for loguniform)' }),
);

/** one config field's domain: exactly one of `choice`, `uniform`, `loguniform`, `int` */
export const SearchDomain = Type.Union(
  [
    Type.Object(
      {
        choice: Type.Array(Type.Union([Type.Number(), Type.String({ maxLength: 200 }), Type.Boolean(), Type.Null()]), {
          minItems: 1,
          maxItems: MAX_GRID_POINTS,
        }),
      },
      { additionalProperties: false, description: 'one of these values' },
    ),
    Type.Object(
      { uniform: Type.Tuple([Bound, Bound], { description: '[low, high], low < high' }), grid: gridPoints },
      { additionalProperties: false, description: 'a real number drawn uniformly from [low, high]' },
    ),
    Type.Object(
      { loguniform: Type.Tuple([Bound, Bound], { description: '[low, high], 0 < low < high' }), grid: gridPoints },
      { additionalProperties: false, description: 'a real number whose logarithm is uniform on [log low, log high]' },
    ),
    Type.Object(
      { int: Type.Tuple([Type.Integer({ minimum: -1e9, maximum: 1e9 }), Type.Integer({ minimum: -1e9, maximum: 1e9 })]) },
      { additionalProperties: false, description: 'an integer in [low, high], both included' },
    ),
  ],
  { description: 'choice | uniform | loguniform | int' },
);
export type SearchDomain = Static<typeof SearchDomain>;

export const SearchSpace = Type.Record(
  Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)?$', maxLength: 64 }),
  SearchDomain,
  {
    minProperties: 1,
    maxProperties: MAX_SPACE_KEYS,
    description: "config field names of the base run's kind (a nested field as parent.child, e.g. randAugment.m) → their domain",
  },
);
export type SearchSpace = Static<typeof SearchSpace>;

export const SweepAlgorithm = Type.Union(
  [
    Type.Object({ name: Type.Literal('grid') }, { additionalProperties: false, description: 'every combination, in order' }),
    Type.Object(
      { name: Type.Literal('random'), seed: Type.Optional(Int(0, MAX_SEED, { description: 'Default 0' })) },
      { additionalProperties: false, description: '`maxTrials` points drawn from the space with this seed' },
    ),
    Type.Object(
      {
        name: Type.Literal('asha'),
        seed: Type.Optional(Int(0, MAX_SEED, { description: 'Default 0' })),
        eta: Type.Optional(Num(2, 16, { description: 'reduction factor η: the top 1/η at a rung are promoted. Default 3' })),
        budgetUnit: Type.Optional(
          StringEnum(['steps', 'epochs'] as const, { description: 'unit of gracePeriod and maxBudget. Default steps' }),
        ),
        gracePeriod: Type.Optional(
          Type.Number({
            exclusiveMinimum: 0,
            maximum: 1e9,
            description: "the first rung's budget. Default maxBudget / η^(rungs-1), at least 1 step",
          }),
        ),
        maxBudget: Type.Optional(
          Type.Number({ exclusiveMinimum: 0, maximum: 1e9, description: "the last rung's budget. Default the base run's whole length" }),
        ),
      },
      {
        additionalProperties: false,
        description:
          'asynchronous successive halving: trials drawn as `random`, stopped at rungs unless in the top 1/η; promoted trials resume from their checkpoint',
      },
    ),
  ],
  { description: 'grid | random | asha' },
);
export type SweepAlgorithm = Static<typeof SweepAlgorithm>;

export const SweepMetric = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z][a-z0-9_/]*$',
      maxLength: 64,
      description: 'a metric the base kind records, e.g. val_top1, val_loss, loss',
    }),
    goal: StringEnum(['max', 'min'] as const),
  },
  { additionalProperties: false },
);
export type SweepMetric = Static<typeof SweepMetric>;

/** the parts of a sweep that do not depend on how the base run is named (REST body or CLI file) */
export const SweepSearchFields = {
  space: SearchSpace,
  algorithm: SweepAlgorithm,
  metric: SweepMetric,
  maxTrials: Int(1, MAX_SWEEP_TRIALS, { description: 'trials in all (a grid must fit)' }),
  maxConcurrent: Type.Optional(Int(1, MAX_SWEEP_CONCURRENT, { description: 'trials running at once. Default 1' })),
};

/** a trial's state inside its sweep (its run has the ordinary run status besides) */
export const TRIAL_STATES = ['pending', 'running', 'paused', 'promoted', 'stopped', 'completed', 'failed', 'cancelled'] as const;
export type TrialState = (typeof TRIAL_STATES)[number];
/** a sweep's status */
export const SWEEP_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
