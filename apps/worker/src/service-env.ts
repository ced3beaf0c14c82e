/**
 * The worker's and the controller's settings, read once per process with the settings reader of
 * libs/config (its table, rendered in README.md, lists every variable, its roles and default).
 * Rank processes get theirs back from `toProcessEnv` (rank-process-env.ts) and read them here too.
 */
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import {
  BACKEND_NAMES,
  FAULT_INJECTION_ON,
  SettingsReader,
  type Env,
  type FaultSettings,
  type LogLevel,
  type S3Settings,
  type WebGpuAdapterName,
} from '@cim-forge/settings';
import { TRANSPORT_NAMES, WIRE_NAMES, type TransportName, type WireName } from '@cim-forge/collective';
import { parseAllowedNetworks } from '@cim-forge/webhooks';
import { metricsTokenProblem } from '@cim-forge/telemetry';

export interface ServiceEnv {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  s3: S3Settings;
  s3Bucket: string;
  workerId: string;
  /** LOG_LEVEL of this process (and its rank processes) */
  logLevel: LogLevel;
  metricsPort: number;
  /** METRICS_HOST: the metrics server's bind address */
  metricsHost: string;
  /** CIM_METRICS_TOKEN; undefined: /metrics answers anyone who reaches it */
  metricsToken: string | undefined;
  backend: string;
  webgpuAdapter: WebGpuAdapterName;
  /** a worker's: CIM_CACHE_DIR, else $XDG_CACHE_HOME/cim-forge, else ~/.cache/cim-forge (libs/data's cache, set at start) */
  cacheDir: string | undefined;
  /** native intra-op threads of a rank process; undefined = libtensorflow's default (all cores) */
  threads?: number;
  rendezvousTimeoutMs: number;
  collectiveTimeoutMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  controllerLockMs: number;
  /** the collective's Redis servers (≥ 1; default [redisUrl]) */
  collectiveRedisUrls: string[];
  /** this worker's node: ranks that share it reduce locally first (undefined: every rank talks to Redis) */
  nodeName: string | undefined;
  collectiveSocketDir: string | undefined;
  /** CIM_COLLECTIVE_SHM_DIR: the node's shared-memory files (absolute, or `none`: sockets only; undefined: /dev/shm) */
  collectiveShmDir: string | undefined;
  collectiveWire: WireName | 'auto';
  /** CIM_COLLECTIVE_TRANSPORT: what carries the all-reduce (redis, or gloo) */
  collectiveTransport: TransportName;
  /** CIM_GLOO_HOST: transport gloo's listen address (default: the host name) */
  glooHost: string;
  /** absolute; teams' areas are <dataRoot>/<team id>; undefined: no image folders on disk */
  dataRoot: string | undefined;
  dataCache: string;
  dataMaxBytes: number;
  webhooks: { allowedNetworks: string[]; attempts: number; backoffMs: number; timeoutMs: number };
  /** test-only faults (CIM_FAULT_INJECTION=chaos-tests-only, never in production); {} normally */
  faults: FaultSettings;
}

export function readServiceEnv(env: Env, role: 'worker' | 'controller'): ServiceEnv {
  const r = new SettingsReader(env, role);
  const databaseUrl = r.required('DATABASE_URL', 'e.g. postgresql://user@host:5432/cim');
  r.url('DATABASE_URL', ['postgresql:', 'postgres:']);
  const s3Bucket = role === 'worker' ? r.required('S3_BUCKET', 'checkpoints are written to S3') : (r.text('S3_BUCKET') ?? '');
  const redisUrl = r.url('REDIS_URL', ['redis:', 'rediss:'])!;
  const collectiveRedisUrls = r.redisUrls('CIM_COLLECTIVE_REDIS_URLS', [redisUrl]);
  const metricsToken = r.validate('CIM_METRICS_TOKEN', metricsTokenProblem);
  const metricsHost = r.host('METRICS_HOST');
  const wires: readonly (WireName | 'auto')[] = ['auto', ...WIRE_NAMES];
  const collectiveWire = r.oneOf(
    'CIM_COLLECTIVE_WIRE',
    wires,
    (v) => `CIM_COLLECTIVE_WIRE must be auto, ${WIRE_NAMES.join(', ')}; got "${v}"`,
  );
  const settings: ServiceEnv = {
    databaseUrl,
    redisUrl,
    queuePrefix: r.text('CIM_QUEUE_PREFIX')!,
    s3: r.s3(),
    s3Bucket,
    workerId: r.text('WORKER_ID') ?? `${hostname()}-${process.pid}`,
    logLevel: r.logLevel(),
    metricsPort: r.int('METRICS_PORT', { min: 0, max: 65535 }),
    metricsHost,
    metricsToken,
    backend: r.oneOf('CIM_BACKEND', BACKEND_NAMES),
    webgpuAdapter: r.webGpuAdapter(),
    threads: r.optionalInt('CIM_THREADS'),
    rendezvousTimeoutMs: r.int('CIM_RENDEZVOUS_TIMEOUT_MS'),
    collectiveTimeoutMs: r.int('CIM_COLLECTIVE_TIMEOUT_MS'),
    heartbeatMs: r.int('CIM_HEARTBEAT_MS'),
    heartbeatTimeoutMs: r.int('CIM_HEARTBEAT_TIMEOUT_MS'),
    controllerLockMs: r.int('CIM_CONTROLLER_LOCK_MS', { min: 1000 }),
    collectiveRedisUrls,
    nodeName: r.text('NODE_NAME'),
    collectiveSocketDir: r.text('CIM_COLLECTIVE_SOCKET_DIR'),
    collectiveShmDir: r.check('CIM_COLLECTIVE_SHM_DIR', shmDir, undefined),
    collectiveWire,
    collectiveTransport: r.oneOf('CIM_COLLECTIVE_TRANSPORT', TRANSPORT_NAMES),
    glooHost: r.text('CIM_GLOO_HOST') ?? hostname(),
    dataRoot: r.absolutePath('CIM_DATA_ROOT'),
    dataCache: r.absolutePath('CIM_DATA_CACHE') ?? join(tmpdir(), 'cim-data'),
    dataMaxBytes: r.int('CIM_DATA_MAX_BYTES'),
    cacheDir: role === 'worker' ? r.cacheDir() : undefined,
    webhooks: {
      allowedNetworks: r.check('CIM_WEBHOOK_ALLOWED_NETWORKS', parseAllowedNetworks, []),
      attempts: r.int('CIM_WEBHOOK_ATTEMPTS'),
      backoffMs: r.int('CIM_WEBHOOK_BACKOFF_MS'),
      timeoutMs: r.int('CIM_WEBHOOK_TIMEOUT_MS'),
    },
    faults: role === 'worker' ? r.faults() : {},
  };
  r.done(role);
  return settings;
}

/** CIM_COLLECTIVE_SHM_DIR: an absolute path or `none` (unset: the collective's default, /dev/shm) */
function shmDir(v: string | undefined): string | undefined {
  if (v === undefined || v === 'none' || isAbsolute(v)) return v;
  throw new Error(`CIM_COLLECTIVE_SHM_DIR must be an absolute path (a tmpfs directory) or none, got "${v}"`);
}

/** where a run's checkpoints live */
export function runCheckpointPrefix(runId: string): string {
  return `runs/${runId}/checkpoints`;
}

/**
 * The variables that make `readServiceEnv` return `env` again (for the rank processes a worker
 * spawns), except CIM_METRICS_TOKEN: a rank process serves no HTTP, so it never holds that secret.
 */
export function toProcessEnv(env: ServiceEnv): Record<string, string> {
  const out: Record<string, string> = {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    CIM_QUEUE_PREFIX: env.queuePrefix,
    S3_BUCKET: env.s3Bucket,
    S3_REGION: env.s3.region,
    S3_FORCE_PATH_STYLE: String(env.s3.forcePathStyle ?? false),
    WORKER_ID: env.workerId,
    LOG_LEVEL: env.logLevel,
    CIM_BACKEND: env.backend,
    CIM_WEBGPU_ADAPTER: env.webgpuAdapter,
    CIM_RENDEZVOUS_TIMEOUT_MS: String(env.rendezvousTimeoutMs),
    CIM_COLLECTIVE_TIMEOUT_MS: String(env.collectiveTimeoutMs),
    CIM_HEARTBEAT_MS: String(env.heartbeatMs),
    CIM_HEARTBEAT_TIMEOUT_MS: String(env.heartbeatTimeoutMs),
    CIM_COLLECTIVE_REDIS_URLS: env.collectiveRedisUrls.join(','),
    CIM_COLLECTIVE_WIRE: env.collectiveWire,
    CIM_COLLECTIVE_TRANSPORT: env.collectiveTransport,
    CIM_GLOO_HOST: env.glooHost,
  };
  if (env.metricsHost !== '0.0.0.0') out.METRICS_HOST = env.metricsHost;
  if (env.nodeName) out.NODE_NAME = env.nodeName;
  if (env.collectiveSocketDir) out.CIM_COLLECTIVE_SOCKET_DIR = env.collectiveSocketDir;
  if (env.collectiveShmDir) out.CIM_COLLECTIVE_SHM_DIR = env.collectiveShmDir;
  if (env.threads !== undefined) out.CIM_THREADS = String(env.threads);
  out.CIM_DATA_CACHE = env.dataCache;
  out.CIM_DATA_MAX_BYTES = String(env.dataMaxBytes);
  if (env.dataRoot) out.CIM_DATA_ROOT = env.dataRoot;
  if (env.faults.nonFiniteLoss) {
    out.CIM_FAULT_INJECTION = FAULT_INJECTION_ON;
    out.CIM_FAULT_NON_FINITE_LOSS = `${env.faults.nonFiniteLoss.runName}@${env.faults.nonFiniteLoss.step}`;
  }
  if (env.s3.endpoint) out.S3_ENDPOINT = env.s3.endpoint;
  if (env.s3.accessKeyId) out.S3_ACCESS_KEY_ID = env.s3.accessKeyId;
  if (env.s3.secretAccessKey) out.S3_SECRET_ACCESS_KEY = env.s3.secretAccessKey;
  if (env.s3.sessionToken) out.S3_SESSION_TOKEN = env.s3.sessionToken;
  if (env.s3.checksums) out.S3_CHECKSUMS = env.s3.checksums;
  return out;
}
