/**
 * The API's settings: the only place that reads process.env. Every value is checked here once;
 * a missing or invalid one stops the process with a message naming the variable.
 */
import { s3OptionsFromEnv, type S3ConnectionOptions } from '@cim-forge/storage';
import { parseAllowedNetworks } from '@cim-forge/webhooks';
import { metricsTokenProblem } from '@cim-forge/telemetry';
import { parseCorsOrigins } from './plugins/cors.ts';

export interface ApiConfig {
  databaseUrl: string;
  redisUrl: string;
  s3: S3ConnectionOptions;
  s3Bucket: string;
  port: number;
  host: string;
  /** CIM_ADMIN_TOKEN; undefined = only admin tokens stored in the database administer */
  adminToken: string | undefined;
  /** BullMQ key prefix shared with the controller and workers */
  queuePrefix: string;
  logLevel: string;
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** shortest accepted CIM_ADMIN_TOKEN, chars */
const MIN_ADMIN_TOKEN = 24;

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): ApiConfig {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const required = (name: string, hint: string): string => {
    const v = get(name);
    if (v === undefined) problems.push(`${name} is required (${hint})`);
    return v ?? '';
  };
  const url = (name: string, value: string, protocols: string[]) => {
    if (!value) return;
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      problems.push(`${name} is not a URL: "${value}"`);
      return;
    }
    if (!protocols.includes(u.protocol)) problems.push(`${name} must start with ${protocols.map((p) => p + '//').join(' or ')}, got "${u.protocol}//…"`);
  };

  const databaseUrl = required('DATABASE_URL', 'e.g. postgresql://user:pass@host:5432/cimforge');
  url('DATABASE_URL', databaseUrl, ['postgresql:', 'postgres:']);
  const redisUrl = get('REDIS_URL') ?? 'redis://127.0.0.1:6379';
  url('REDIS_URL', redisUrl, ['redis:', 'rediss:']);
  const s3Bucket = required('S3_BUCKET', 'the bucket that holds checkpoints');
  const endpoint = get('S3_ENDPOINT');
  if (endpoint) url('S3_ENDPOINT', endpoint, ['http:', 'https:']);
  const pathStyle = get('S3_FORCE_PATH_STYLE');
  if (pathStyle !== undefined && !['true', 'false', '1', '0'].includes(pathStyle)) {
    problems.push(`S3_FORCE_PATH_STYLE must be true, false, 1 or 0, got "${pathStyle}"`);
  }
  let s3: S3ConnectionOptions = { region: 'us-east-1' };
  try {
    s3 = s3OptionsFromEnv(env);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  }

  const portText = get('PORT') ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) problems.push(`PORT must be an integer in [0, 65535], got "${portText}"`);
  const host = get('HOST') ?? '0.0.0.0';

  const adminToken = get('CIM_ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN) {
    problems.push(`CIM_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN} characters (e.g. openssl rand -base64 32)`);
  }
  const queuePrefix = get('CIM_QUEUE_PREFIX') ?? 'bull';
  if (!/^[\w.:-]+$/.test(queuePrefix)) problems.push(`CIM_QUEUE_PREFIX may hold only letters, digits and _ . : -, got "${queuePrefix}"`);
  const logLevel = get('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  const cors = parseCorsOrigins(get('CIM_CORS_ORIGINS'));
  problems.push(...cors.problems);
  let webhookAllowedNetworks: string[] = [];
  try {
    webhookAllowedNetworks = parseAllowedNetworks(get('CIM_WEBHOOK_ALLOWED_NETWORKS'));
  } catch (e) {
    problems.push(`CIM_WEBHOOK_ALLOWED_NETWORKS: ${(e as Error).message}`);
  }

  const memText = get('CIM_WORKER_MEMORY_MB') ?? '81920';
  if (!/^\d+$/.test(memText) || Number(memText) < 256 || Number(memText) > 16 * 1024 * 1024) problems.push(`CIM_WORKER_MEMORY_MB must be an integer in [256, 16777216] (MiB), got "${memText}"`);
  const workerMemoryBytes = Number(memText) * 2 ** 20;
  const rateText = get('CIM_RATE_LIMIT_PER_MINUTE') ?? '600';
  if (!/^\d+$/.test(rateText) || Number(rateText) < 1) problems.push(`CIM_RATE_LIMIT_PER_MINUTE must be a positive integer, got "${rateText}"`);
  const rateLimitPerMinute = Number(rateText);
  const metricsToken = get('CIM_METRICS_TOKEN');
  if (metricsToken !== undefined) {
    const problem = metricsTokenProblem(metricsToken);
    if (problem) problems.push(problem);
  }

  if (problems.length) throw new Error(`invalid API configuration:\n  - ${problems.join('\n  - ')}`);
  return { databaseUrl, redisUrl, s3, s3Bucket, port, host, adminToken, queuePrefix, logLevel, corsOrigins: cors.origins, webhookAllowedNetworks, workerMemoryBytes, rateLimitPerMinute, metricsToken };
}
