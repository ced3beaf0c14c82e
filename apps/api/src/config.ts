/**
 * The API's settings, read once at start with the settings reader of libs/config (its table lists
 * every variable and default). A missing or invalid one stops the process with a message naming it.
 */
import { processEnv, SettingsReader, type Env, type LogLevel, type S3Settings } from '@cim-forge/settings';
import { parseAllowedNetworks } from '@cim-forge/webhooks';
import { metricsTokenProblem } from '@cim-forge/telemetry';
import { parseCorsOrigins } from './plugins/cors.ts';

export interface ApiConfig {
  databaseUrl: string;
  redisUrl: string;
  s3: S3Settings;
  s3Bucket: string;
  port: number;
  host: string;
  /** CIM_ADMIN_TOKEN; undefined = only admin tokens stored in the database administer */
  adminToken: string | undefined;
  /** BullMQ key prefix shared with the controller and workers */
  queuePrefix: string;
  logLevel: LogLevel;
  /** CIM_CORS_ORIGINS: browser origins allowed to call the API */
  corsOrigins: string[];
  /** CIM_WEBHOOK_ALLOWED_NETWORKS: CIDRs webhooks may reach although private/loopback (an admin's allowance) */
  webhookAllowedNetworks: string[];
  /** CIM_WORKER_MEMORY_MB in bytes: what one worker (rank) holds; bigger runs are refused */
  workerMemoryBytes: number;
  /** CIM_RATE_LIMIT_PER_MINUTE: requests per minute per token on /v1 */
  rateLimitPerMinute: number;
  /** CIM_METRICS_TOKEN: guards /metrics and /docs; undefined = they answer anyone (local dev) */
  metricsToken: string | undefined;
}

/** shortest accepted CIM_ADMIN_TOKEN, chars */
const MIN_ADMIN_TOKEN = 24;

export function loadConfig(env: Env = processEnv()): ApiConfig {
  const r = new SettingsReader(env, 'api');
  const databaseUrl = r.required('DATABASE_URL', 'e.g. postgresql://user:pass@host:5432/cimforge');
  r.url('DATABASE_URL', ['postgresql:', 'postgres:']);
  const redisUrl = r.url('REDIS_URL', ['redis:', 'rediss:'])!;
  const s3Bucket = r.required('S3_BUCKET', 'the bucket that holds checkpoints');
  const s3 = r.s3();
  const port = r.int('PORT', { min: 0, max: 65535 });
  const host = r.text('HOST')!;
  const adminToken = r.text('CIM_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN) {
    r.problems.push(`CIM_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN} characters (e.g. openssl rand -base64 32)`);
  }
  const queuePrefix = r.text('CIM_QUEUE_PREFIX')!;
  if (!/^[\w.:-]+$/.test(queuePrefix)) r.problems.push(`CIM_QUEUE_PREFIX may hold only letters, digits and _ . : -, got "${queuePrefix}"`);
  const logLevel = r.logLevel();
  const cors = parseCorsOrigins(r.text('CIM_CORS_ORIGINS'));
  r.problems.push(...cors.problems);
  const webhookAllowedNetworks = r.check('CIM_WEBHOOK_ALLOWED_NETWORKS', parseAllowedNetworks, []);
  const workerMemoryBytes = r.int('CIM_WORKER_MEMORY_MB', { min: 256, max: 16 * 1024 * 1024, unit: 'MiB' }) * 2 ** 20;
  const rateLimitPerMinute = r.int('CIM_RATE_LIMIT_PER_MINUTE');
  const metricsToken = r.validate('CIM_METRICS_TOKEN', metricsTokenProblem);
  r.done('API');
  return {
    databaseUrl,
    redisUrl,
    s3,
    s3Bucket,
    port,
    host,
    adminToken,
    queuePrefix,
    logLevel,
    corsOrigins: cors.origins,
    webhookAllowedNetworks,
    workerMemoryBytes,
    rateLimitPerMinute,
    metricsToken,
  };
}
