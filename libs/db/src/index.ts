export { createDb } from './client.ts';
export type { Db, CreateDbOptions } from './client.ts';
export { migrate, readMigrations, defaultMigrationsDir, MigrationError } from './migrate.ts';
export type { MigrateOptions, MigrateResult, MigrationFile } from './migrate.ts';
export { writeMetrics, readMetricSeries, readMetricBuckets } from './metrics.ts';
export type { MetricPoint, SeriesQuery, SeriesPoint, SeriesBucket } from './metrics.ts';
export { Prisma, RunKind, RunStatus, RankAttemptStatus, CheckpointStatus } from './generated/prisma/client.ts';
export type { Team, ApiToken, Run, RankAttempt, Checkpoint, RunEvent, Metric, Webhook, WebhookDelivery, Figure } from './generated/prisma/client.ts';
