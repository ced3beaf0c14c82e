/** The run resource and the POST /v1/runs body. */
import { Type, type Static } from 'typebox';
import { PRIORITY_MAX, PRIORITY_MIN } from '@cim-forge/queue';
import { RUN_KINDS, runConfigInputSchemas } from '@cim-forge/config';
import { RUN_STATUSES } from '@cim-forge/db';
import { IsoTime, JsonObject, Nullable, StringEnum, Uuid } from './common.ts';

export { RUN_KINDS, RUN_STATUSES };
export const MAX_WORLD_SIZE = 64;
/** no control characters (NUL and friends), which Postgres text and logs cannot hold */
export const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f]*$';

export const RunSource = Type.Object(
  {
    checkpointId: Uuid,
    runId: Nullable(Uuid),
    step: Type.Integer(),
    uri: Type.String(),
  },
  { description: 'the pinned source checkpoint (runId null for an imported weights file)' },
);

export const RunPlan = Type.Object(
  {
    effectiveBatch: Type.Integer({ description: 'images per optimizer step, all ranks together' }),
    peakLr: Type.Number(),
    epochs: Type.Number(),
    warmupEpochs: Type.Number(),
    trainImages: Nullable(Type.Integer()),
    stepsPerEpoch: Nullable(Type.Integer()),
    totalSteps: Nullable(Type.Integer()),
    warmupSteps: Nullable(Type.Integer()),
    derivedBy: StringEnum(['api', 'worker'] as const, {
      description: 'api: from the config at submission (steps null when the data size is unknown); worker: from the data',
    }),
  },
  { description: 'derived once from the resolved config' },
);

export const ResourceEstimate = Type.Object(
  {
    parameters: Type.Integer({ description: 'learnable parameters' }),
    stateBytes: Type.Number({ description: 'weights, gradients and optimizer moments' }),
    activationBytes: Type.Number({ description: 'activations of one micro-batch at the peak' }),
    peakTensorBytes: Type.Number(),
    peakBytesPerRank: Type.Number({ description: 'what one worker must hold, runtime included; refused above CIM_WORKER_MEMORY_MB' }),
    flopsPerStep: Type.Number({ description: 'floating-point operations of one optimizer step on one rank' }),
  },
  { description: 'the API\'s estimate for the resolved config (docs/security.md, "Resource limits")' },
);

export const Run = Type.Object({
  id: Uuid,
  teamId: Uuid,
  kind: StringEnum(RUN_KINDS),
  status: StringEnum(RUN_STATUSES),
  name: Nullable(Type.String()),
  preset: Nullable(Type.String()),
  config: JsonObject,
  worldSize: Type.Integer(),
  priority: Type.Integer(),
  maxRestarts: Type.Integer(),
  infraRestarts: Type.Integer(),
  userRestarts: Type.Integer(),
  error: Nullable(Type.String()),
  source: Nullable(RunSource),
  plan: Nullable(RunPlan),
  resources: Nullable(ResourceEstimate),
  sweepId: Nullable(Uuid),
  trialIndex: Nullable(Type.Integer({ description: "a sweep's trial: its index in the sweep" })),
  createdAt: IsoTime,
  queuedAt: Nullable(IsoTime),
  startedAt: Nullable(IsoTime),
  finishedAt: Nullable(IsoTime),
  updatedAt: IsoTime,
});
export type Run = Static<typeof Run>;

export const SubmitRunBody = Type.Object(
  {
    kind: StringEnum(RUN_KINDS),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL })),
    preset: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'see GET /v1/presets' })),
    config: Type.Optional(
      Type.Union([runConfigInputSchemas.pretrain, runConfigInputSchemas.finetune, runConfigInputSchemas.eval], {
        description:
          "fields of the kind's config (pretrain, finetune or eval, in that order) " +
          'applied over the preset; unknown fields are refused, every number is bounded',
      }),
    ),
    worldSize: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_WORLD_SIZE, description: 'ranks (GPUs); finetune and eval take 1. Default 1' }),
    ),
    priority: Type.Optional(Type.Integer({ minimum: PRIORITY_MIN, maximum: PRIORITY_MAX, description: 'higher runs first. Default 0' })),
    maxRestarts: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 20,
        description:
          'gang restarts after infrastructure failures (lost worker or rank, Redis/S3/network errors) before the run FAILS; ' +
          'errors in the run itself fail it at once, and preemptions (SIGTERM) and rendezvous timeouts spend nothing. Default 3',
      }),
    ),
    source: Type.Optional(
      Type.Object(
        {
          runId: Type.Optional(Uuid),
          checkpoint: Type.Optional(Type.String({ description: '"latest", "best" or a checkpoint id', maxLength: 64 })),
          uri: Type.Optional(Type.String({ pattern: '^s3://', maxLength: 1024, description: 's3://<bucket>/<key>.safetensors' })),
        },
        {
          additionalProperties: false,
          description: 'required for finetune and eval, refused for pretrain: {runId, checkpoint} or {uri}',
        },
      ),
    ),
    encoder: Type.Optional(StringEnum(['online', 'target'] as const, { description: 'finetune only' })),
    validateOnly: Type.Optional(Type.Boolean({ description: 'check and resolve, write nothing' })),
  },
  { additionalProperties: false },
);
export type SubmitRunBody = Static<typeof SubmitRunBody>;

export const ValidatedRun = Type.Object({
  valid: Type.Literal(true),
  kind: StringEnum(RUN_KINDS),
  worldSize: Type.Integer(),
  config: JsonObject,
  plan: RunPlan,
  resources: ResourceEstimate,
  source: Type.Optional(
    Type.Object({
      checkpointId: Nullable(Uuid),
      runId: Nullable(Uuid),
      step: Type.Integer(),
      uri: Type.String(),
      encoder: Type.Optional(StringEnum(['online', 'target'] as const)),
    }),
  ),
});
