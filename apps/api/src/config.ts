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
  /** CIM_RATE_LIMIT_IP_PER_MINUTE: requests per minute per client address on /v1, before authentication */
  rateLimitIpPerMinute: number;
  /** CIM_TRUST_PROXY: Fastify's trustProxy (a hop count or addresses/CIDRs); undefined = trust none */
  trustProxy: number | string | undefined;
  /** CIM_STREAMS_PER_TOKEN, CIM_STREAMS_PER_TEAM, CIM_STREAM_MAX_SECONDS */
  streamLimits: { perToken: number; perTeam: number; maxSeconds: number };
  /** CIM_DEFAULT_MAX_QUEUED_RUNS, CIM_DEFAULT_MAX_ACTIVE_RANKS */
  defaultQuotas: { maxQueuedRuns: number; maxActiveRanks: number };
  /** CIM_IMPORTS_PER_TEAM, CIM_IMPORT_MIB_PER_TEAM (in bytes) */
  importLimits: { count: number; bytes: number };
  /** CIM_FIGURE_UPLOADS_PER_RUN */
  figureUploadsPerRun: number;
}

/** a hop count, or comma-separated IPs/CIDRs (proxy-addr's syntax, its names loopback/linklocal/uniquelocal too) */
function parseTrustProxy(text: string | undefined): { value: number | string | undefined; problem?: string } {
  if (text === undefined) return { value: undefined };
  if (/^\d{1,2}$/.test(text)) return { value: Number(text) };
  const parts = text.split(',').map((p) => p.trim());
  const bad = parts.filter((p) => !/^(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)$/.test(p));
  if (bad.length > 0 || parts.length === 0) {
    return {
      value: undefined,
      problem: `CIM_TRUST_PROXY must be a hop count or comma-separated addresses/CIDRs, got "${text.slice(0, 80)}"`,
    };
  }
  return { value: parts.join(',') };
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
  const rateLimitIpPerMinute = r.int('CIM_RATE_LIMIT_IP_PER_MINUTE', { min: 1 });
  const trust = parseTrustProxy(r.text('CIM_TRUST_PROXY'));
  if (trust.problem) r.problems.push(trust.problem);
  const streamLimits = {
    perToken: r.int('CIM_STREAMS_PER_TOKEN', { min: 1, max: 10_000 }),
    perTeam: r.int('CIM_STREAMS_PER_TEAM', { min: 1, max: 100_000 }),
    maxSeconds: r.int('CIM_STREAM_MAX_SECONDS', { min: 10, max: 7 * 86_400, unit: 's' }),
  };
  const defaultQuotas = {
    maxQueuedRuns: r.int('CIM_DEFAULT_MAX_QUEUED_RUNS', { min: 0, max: 100_000 }),
    maxActiveRanks: r.int('CIM_DEFAULT_MAX_ACTIVE_RANKS', { min: 0, max: 100_000 }),
  };
  const importLimits = {
    count: r.int('CIM_IMPORTS_PER_TEAM', { min: 1, max: 1_000_000 }),
    bytes: r.int('CIM_IMPORT_MIB_PER_TEAM', { min: 1, max: 1024 ** 3, unit: 'MiB' }) * 2 ** 20,
  };
  const figureUploadsPerRun = r.int('CIM_FIGURE_UPLOADS_PER_RUN', { min: 1, max: 10_000 });
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
    rateLimitIpPerMinute,
    trustProxy: trust.value,
    streamLimits,
    defaultQuotas,
    importLimits,
    figureUploadsPerRun,
  };
}
