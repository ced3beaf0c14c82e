/**
 * THE metric catalogue: every metric CIM Forge exports, with its type, help text and label names.
 * The factories (api-metrics.ts, controller-metrics.ts, worker-metrics.ts) register from here,
 * and the dashboard/alert tests check every PromQL name against it, so a metric exists in exactly
 * one place.
 *
 * Cardinality rule: labels are bounded sets (status, team, kind, queue, state, cause, reason,
 * method, route template, status code, worker pod) plus run_id and rank on per-run series, which
 * the worker removes with `forgetRun` when a run leaves the pod. Never a user id, a path with ids
 * in it, an error message or a step number.
 */

/** seconds; HTTP handlers on the API (prom-client's defaults less the slowest, plus 25 ms) */
export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** seconds; one optimizer step, from ~10 ms (tiny model on GPU) to 2 min (ViT-B on wasm) */
export const STEP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** seconds; one checkpoint to S3 (shards + manifest + row) */
export const CHECKPOINT_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** seconds; QUEUED → first rank RUNNING, from a free cluster (s) to a busy one (hours) */
export const QUEUE_WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/** why a rank stopped before its run finished; bounded on purpose */
export const RANK_FAILURE_REASONS = ['exit', 'signal', 'heartbeat', 'rendezvous', 'cancelled'] as const;
export type RankFailureReason = (typeof RANK_FAILURE_REASONS)[number];
/** infra: a pod died, a node went away, a heartbeat lapsed; user: the run's own code or config */
export const RESTART_CAUSES = ['infra', 'user'] as const;
export type RestartCause = (typeof RESTART_CAUSES)[number];

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Service = 'api' | 'controller' | 'worker';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[];
  readonly service: Service;
}

const RANK = ['run_id', 'rank', 'team'] as const;

function spec<const T extends MetricType, const L extends readonly string[]>(s: {
  name: string;
  type: T;
  help: string;
  labelNames: L;
  buckets?: readonly number[];
  service: Service;
}) {
  return s;
}

export const catalogue = {
  // ── api ──────────────────────────────────────────────────────────────────────────────────
  httpRequestDuration: spec({
    service: 'api',
    type: 'histogram',
    name: 'cim_http_request_duration_seconds',
    help: 'HTTP request latency in seconds, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
  }),
  runsSubmitted: spec({
    service: 'api',
    type: 'counter',
    name: 'cim_runs_submitted_total',
    help: 'Training runs accepted by POST /v1/runs, by kind (no team: the API port is public).',
    labelNames: ['kind'] as const,
  }),
  // ── controller ───────────────────────────────────────────────────────────────────────────
  runs: spec({
    service: 'controller',
    type: 'gauge',
    name: 'cim_runs',
    help: 'Training runs in the database by status and team, read at scrape time.',
    labelNames: ['status', 'team'] as const,
  }),
  queueDepth: spec({
    service: 'controller',
    type: 'gauge',
    name: 'cim_queue_depth',
    help: 'Jobs in a BullMQ queue by state (waiting, prioritized, active, delayed, failed, ...), read at scrape time.',
    labelNames: ['queue', 'state'] as const,
  }),
  queueWait: spec({
    service: 'controller',
    type: 'histogram',
    name: 'cim_queue_wait_seconds',
    help: 'Seconds from a run being QUEUED to its first rank RUNNING.',
    labelNames: ['kind'] as const,
    buckets: QUEUE_WAIT_BUCKETS,
  }),
  runRestarts: spec({
    service: 'controller',
    type: 'counter',
    name: 'cim_run_restarts_total',
    help: 'Gang restarts of a run, by cause (infra or user).',
    labelNames: ['run_id', 'team', 'cause'] as const,
  }),
  runsFinished: spec({
    service: 'controller',
    type: 'counter',
    name: 'cim_runs_finished_total',
    help: 'Runs that reached a final status (SUCCEEDED, FAILED, CANCELLED).',
    labelNames: ['team', 'kind', 'status'] as const,
  }),
  sweepsActive: spec({
    service: 'controller',
    type: 'gauge',
    name: 'cim_sweeps_active',
    help: 'Sweeps still RUNNING, by team, read at scrape time.',
    labelNames: ['team'] as const,
  }),
  sweepTrialsLive: spec({
    service: 'controller',
    type: 'gauge',
    name: 'cim_sweep_trials_live',
    help: "Sweeps' trials whose run is queued or running now (not paused, not ended), by team, read at scrape time.",
    labelNames: ['team'] as const,
  }),
  sweepEarlyStops: spec({
    service: 'controller',
    type: 'counter',
    name: 'cim_sweep_early_stops_total',
    help: 'Sweep trials stopped at a rung (not in the top 1/eta of those that reached it).',
    labelNames: ['team'] as const,
  }),
  // ── worker (one process per GPU) ─────────────────────────────────────────────────────────
  workerInfo: spec({
    service: 'worker',
    type: 'gauge',
    name: 'cim_worker_info',
    help: 'Always 1; labels name the worker and the tfjs backend it loaded.',
    labelNames: ['worker', 'backend'] as const,
  }),
  workerBusy: spec({
    service: 'worker',
    type: 'gauge',
    name: 'cim_worker_busy',
    help: '1 while the worker holds a rank job, else 0.',
    labelNames: ['worker'] as const,
  }),
  rankSteps: spec({
    service: 'worker',
    type: 'counter',
    name: 'cim_rank_steps_total',
    help: 'Optimizer steps completed by a rank.',
    labelNames: RANK,
  }),
  rankStepSeconds: spec({
    service: 'worker',
    type: 'histogram',
    name: 'cim_rank_step_seconds',
    help: 'Wall time of one optimizer step on a rank (data wait, forward, backward, all-reduce, update).',
    labelNames: RANK,
    buckets: STEP_BUCKETS,
  }),
  rankImagesPerSecond: spec({
    service: 'worker',
    type: 'gauge',
    name: 'cim_rank_images_per_second',
    help: 'Images per second trained by a rank over its last step.',
    labelNames: RANK,
  }),
  rankLoss: spec({
    service: 'worker',
    type: 'gauge',
    name: 'cim_rank_loss',
    help: 'Training loss at the last step of a rank.',
    labelNames: RANK,
  }),
  rankLr: spec({
    service: 'worker',
    type: 'gauge',
    name: 'cim_rank_lr',
    help: 'Learning rate at the last step of a rank.',
    labelNames: RANK,
  }),
  rankTargetMomentum: spec({
    service: 'worker',
    type: 'gauge',
    name: 'cim_rank_target_momentum',
    help: 'EMA momentum of the target encoder at the last step of a rank.',
    labelNames: RANK,
  }),
  rankAllreduceSeconds: spec({
    service: 'worker',
    type: 'counter',
    name: 'cim_rank_allreduce_seconds_total',
    help: 'Seconds a rank spent in gradient all-reduce.',
    labelNames: RANK,
  }),
  rankAllreduceBytes: spec({
    service: 'worker',
    type: 'counter',
    name: 'cim_rank_allreduce_bytes_total',
    help: 'Bytes a rank sent and received in gradient all-reduce.',
    labelNames: RANK,
  }),
  rankDataWaitSeconds: spec({
    service: 'worker',
    type: 'counter',
    name: 'cim_rank_data_wait_seconds_total',
    help: 'Seconds a rank waited for its next batch.',
    labelNames: RANK,
  }),
  rankHeartbeat: spec({
    service: 'worker',
    type: 'gauge',
    name: 'cim_rank_heartbeat_timestamp_seconds',
    help: 'Unix time of the last heartbeat a rank sent.',
    labelNames: RANK,
  }),
  rankFailures: spec({
    service: 'worker',
    type: 'counter',
    name: 'cim_rank_failures_total',
    help: 'Ranks that stopped before their run finished, by reason (exit, signal, heartbeat, rendezvous, cancelled).',
    labelNames: ['run_id', 'rank', 'team', 'reason'] as const,
  }),
  checkpointWriteSeconds: spec({
    service: 'worker',
    type: 'histogram',
    name: 'cim_checkpoint_write_seconds',
    help: 'Seconds to write one checkpoint (shards, manifest, row COMPLETE).',
    labelNames: ['run_id', 'team'] as const,
    buckets: CHECKPOINT_BUCKETS,
  }),
  checkpointBytes: spec({
    service: 'worker',
    type: 'counter',
    name: 'cim_checkpoint_bytes_total',
    help: 'Bytes of checkpoints written to object storage.',
    labelNames: ['run_id', 'team'] as const,
  }),
} as const;

export type CatalogueKey = keyof typeof catalogue;

export const allMetricSpecs: readonly MetricSpec[] = Object.values(catalogue);

/** The label every registry of ours carries (see registry.ts for why not `service`). */
export const COMPONENT_LABEL = 'component';
/** The worker registry's second default label: the tfjs backend the process loaded. */
export const BACKEND_LABEL = 'backend';
export const DEFAULT_LABEL_NAMES = [COMPONENT_LABEL, BACKEND_LABEL] as const;

/** Series names a spec produces in the text exposition. */
export function exposedNames(s: MetricSpec): string[] {
  return s.type === 'histogram' ? [`${s.name}_bucket`, `${s.name}_sum`, `${s.name}_count`] : [s.name];
}
