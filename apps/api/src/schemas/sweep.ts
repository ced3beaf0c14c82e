/**
 * The sweep resource and the POST /v1/sweeps body (issue 22). The search parts (space, algorithm,
 * metric, maxTrials, maxConcurrent) are the contract's (libs/config sweep-schema.ts); the base run
 * is a POST /v1/runs body without validateOnly and priority (the sweep has its own).
 */
import { Type, type Static } from 'typebox';
import { PRIORITY_MAX, PRIORITY_MIN } from '@cim-forge/queue';
import { SWEEP_STATUSES, SweepSearchFields, TRIAL_STATES } from '@cim-forge/config';
import { IsoTime, JsonObject, Nullable, StringEnum, Uuid } from './common.ts';
import { NO_CONTROL, RUN_KINDS, RUN_STATUSES, ResourceEstimate, RunPlan, SubmitRunBody } from './run.ts';

export { SWEEP_STATUSES, TRIAL_STATES };

const { validateOnly: _v, priority: _p, ...baseProps } = SubmitRunBody.properties;
void _v;
void _p;

/** the base run: a POST /v1/runs body (pretrain or finetune) without validateOnly and priority */
export const SweepBaseRun = Type.Object(baseProps, {
  additionalProperties: false,
  description: "a POST /v1/runs body (kind pretrain or finetune); every trial is this run with the trial's params set in its config",
});
export type SweepBaseRun = Static<typeof SweepBaseRun>;

export const SubmitSweepBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL }),
    base: SweepBaseRun,
    ...SweepSearchFields,
    priority: Type.Optional(
      Type.Integer({ minimum: PRIORITY_MIN, maximum: PRIORITY_MAX, description: "every trial's priority. Default 0" }),
    ),
    validateOnly: Type.Optional(Type.Boolean({ description: 'return the trial plan and its estimated cost, write nothing' })),
  },
  { additionalProperties: false },
);
export type SubmitSweepBody = Static<typeof SubmitSweepBody>;

const ParamValue = Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()]);
const TrialParams = Type.Record(Type.String(), ParamValue, { description: 'config field → value' });

export const SweepTrial = Type.Object({
  index: Type.Integer(),
  runId: Nullable(Uuid),
  params: TrialParams,
  status: StringEnum(TRIAL_STATES, { description: "the trial's state in its sweep" }),
  runStatus: Nullable(StringEnum(RUN_STATUSES)),
  rung: Type.Integer({ description: 'the rung it runs to or reached (-1: not started)' }),
  rungMetrics: Type.Array(Nullable(Type.Number()), { description: 'the metric at each rung it reached' }),
  metric: Nullable(Type.Number({ description: 'the metric at its highest rung' })),
  stopReason: Nullable(Type.String()),
});
export type SweepTrial = Static<typeof SweepTrial>;

export const BestTrial = Type.Object({
  index: Type.Integer(),
  runId: Nullable(Uuid),
  params: TrialParams,
  metric: Type.Number(),
});

export const Sweep = Type.Object({
  id: Uuid,
  teamId: Uuid,
  name: Type.String(),
  status: StringEnum(SWEEP_STATUSES),
  kind: StringEnum(RUN_KINDS),
  base: JsonObject,
  space: JsonObject,
  algorithm: JsonObject,
  metric: Type.Object({ name: Type.String(), goal: StringEnum(['max', 'min'] as const) }),
  maxTrials: Type.Integer(),
  maxConcurrent: Type.Integer(),
  priority: Type.Integer(),
  rungs: Type.Array(Type.Integer(), { description: 'absolute optimizer-step budgets of the rungs' }),
  trials: Type.Array(SweepTrial),
  best: Nullable(BestTrial),
  error: Nullable(Type.String()),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  finishedAt: Nullable(IsoTime),
});
export type Sweep = Static<typeof Sweep>;

/** GET /v1/sweeps: a sweep without its trials */
export const SweepSummary = Type.Object({
  id: Uuid,
  teamId: Uuid,
  name: Type.String(),
  status: StringEnum(SWEEP_STATUSES),
  kind: StringEnum(RUN_KINDS),
  maxTrials: Type.Integer(),
  maxConcurrent: Type.Integer(),
  priority: Type.Integer(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  finishedAt: Nullable(IsoTime),
});
export type SweepSummary = Static<typeof SweepSummary>;

export const ValidatedSweep = Type.Object({
  valid: Type.Literal(true),
  kind: StringEnum(RUN_KINDS),
  rungs: Type.Array(Type.Integer()),
  totalSteps: Nullable(Type.Integer()),
  algorithm: JsonObject,
  trials: Type.Array(Type.Object({ index: Type.Integer(), params: TrialParams, stopAtStep: Nullable(Type.Integer()) })),
  notes: Type.Array(Type.String()),
  plan: RunPlan,
  resources: ResourceEstimate,
  estimate: Type.Object(
    {
      steps: Type.Integer({ description: 'optimizer steps of every trial at most (every trial to the last rung: the upper bound)' }),
      stepsExpected: Type.Integer({ description: 'optimizer steps if the rungs halve as planned' }),
      flops: Type.Number({ description: 'stepsExpected × flopsPerStep' }),
      seconds: Nullable(
        Type.Number({
          description:
            "stepsExpected's FLOPs at the FLOP rate of this kind's last 20 succeeded runs, one trial at a time (null: no such runs yet)",
        }),
      ),
    },
    { description: "the sweep's cost from the resource model" },
  ),
});
export type ValidatedSweep = Static<typeof ValidatedSweep>;
