export { createDb } from './client.ts';
export type { Db, CreateDbOptions } from './client.ts';
export { migrate, readMigrations, defaultMigrationsDir, MigrationError } from './migrate.ts';
export type { MigrateOptions, MigrateResult, MigrationFile } from './migrate.ts';
export { writeMetrics, readMetricSeries, readMetricBuckets } from './metrics.ts';
export { readMetricMinMax } from './metric-minmax.ts';
export type { MetricPoint, SeriesQuery, SeriesPoint, SeriesBucket } from './metrics.ts';
export {
  Prisma,
  RunKind,
  RunStatus,
  RankAttemptStatus,
  CheckpointStatus,
  FailureCategory,
  SweepStatus,
} from './generated/prisma/client.ts';
export type {
  Team,
  ApiToken,
  Run,
  RankAttempt,
  Checkpoint,
  RunEvent,
  Metric,
  Webhook,
  WebhookDelivery,
  Figure,
  Sweep,
  SweepTrial,
} from './generated/prisma/client.ts';
export {
  ACTIVE_RUN_STATUSES,
  PAUSED_RUN_STATUSES,
  TERMINAL_RUN_STATUSES,
  LIVE_ATTEMPT_STATUSES,
  RUN_TRANSITIONS,
  ATTEMPT_TRANSITIONS,
  IllegalTransitionError,
  isTerminal,
  checkRunTransition,
  checkAttemptTransition,
  EXIT,
  categoryOfExit,
  stopMessage,
  parseStopMessage,
  toJsonValue,
  recordEvent,
  moveRun,
  queueRun,
  startRun,
  runRunning,
  succeedRun,
  failRun,
  cancelRun,
  restartRun,
  pauseRun,
  resumeRun,
  finishPausedRun,
  countInfraRestart,
  createAttempt,
  takeRank,
  rankJoined,
  heartbeatRank,
  attemptEnd,
  endRank,
  cancelPendingRanks,
  failLiveRanks,
  attemptFailure,
} from './run-lifecycle.ts';
export type { DbClient, ExitCategory, RankOutcome, RunEventData, RunEventType, RankKey } from './run-lifecycle.ts';
export { RUN_STATUSES } from './run-status.ts';
export { DEFAULT_QUOTAS, lockTeam, teamQuotaShortfall } from './team-quota.ts';
export type { DefaultQuotas, QuotaShortfall } from './team-quota.ts';
