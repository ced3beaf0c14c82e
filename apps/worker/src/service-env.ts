/**
 * The worker's and the controller's settings, read from process.env in this one place.
 *
 * | variable | default | meaning |
 * | DATABASE_URL | (required) | PostgreSQL |
 * | REDIS_URL | redis://127.0.0.1:6379 | BullMQ queues and the collective |
 * | CIM_QUEUE_PREFIX | bull | BullMQ key prefix (and the cancel channel's) |
 * | S3_BUCKET | (required for workers) | checkpoints go to s3://$S3_BUCKET/runs/<run>/checkpoints/ |
 * | S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE | | see libs/storage |
 * | WORKER_ID | hostname-pid | names this worker in rank attempts |
 * | METRICS_PORT | 9464 worker, 9465 controller | /metrics, /healthz, /readyz |
 * | METRICS_HOST | 0.0.0.0 | the address the metrics server binds (127.0.0.1: this host only) |
 * | CIM_METRICS_TOKEN | (none) | set (≥ 24 chars): /metrics needs `Authorization: Bearer <it>`; /healthz and /readyz stay open |
 * | CIM_BACKEND | auto | tfjs backend for rank processes (auto, tensorflow, wasm, cpu, webgpu) |
 * | CIM_THREADS | all cores | native backend's intra-op threads per rank process (set it when several workers share a host's CPUs) |
 * | CIM_WEBGPU_ADAPTER | gpu | with CIM_BACKEND=webgpu: gpu (Vulkan) or software (Mesa llvmpipe, CI only) |
 * | CIM_RENDEZVOUS_TIMEOUT_MS | 120000 | all ranks of a gang must join within this |
 * | CIM_COLLECTIVE_TIMEOUT_MS | 120000 | one all-reduce may take this long |
 * | CIM_HEARTBEAT_MS | 2000 | how often a worker heartbeats its rank attempt |
 * | CIM_HEARTBEAT_TIMEOUT_MS | 20000 | controller declares a rank lost after this silence |
 * | CIM_COLLECTIVE_REDIS_URLS | REDIS_URL | the gradient all-reduce's Redis servers, comma-separated: K > 1 shards every all-reduce over them |
 * | NODE_NAME | (unset) | this worker's node (Kubernetes downward API spec.nodeName); set: ranks on one node sum locally, only one per node talks to Redis |
 * | CIM_COLLECTIVE_SOCKET_DIR | os.tmpdir() | the node-local group's Unix sockets; a directory shared by the worker pods of a node |
 * | CIM_COLLECTIVE_WIRE | auto | gradient format on the Redis wire: auto (bfloat16 across nodes, else float32), float32, bfloat16, float16 |
 * | CIM_CONTROLLER_LOCK_MS | 30000 | a dead controller's runs go to another one after about this long (BullMQ lock and stalled check) |
 * | CIM_DATA_ROOT | (none) | teams' data areas on disk: a run's image folder `root` is read from $CIM_DATA_ROOT/<team id>/<root> |
 * | CIM_DATA_CACHE | <tmpdir>/cim-data | where image folders in S3 (s3://$S3_BUCKET/data/<team id>/<root>) are fetched for a rank |
 * | CIM_DATA_MAX_BYTES | 21474836480 | most bytes one rank fetches from S3 for its data sets (20 GiB) |
 * | CIM_WEBHOOK_ALLOWED_NETWORKS | (none) | controller: CIDRs webhooks may reach although private/loopback (an admin's allowance) |
 * | CIM_WEBHOOK_ATTEMPTS | 10 | controller: attempts per webhook delivery, the first included |
 * | CIM_WEBHOOK_BACKOFF_MS | 5000 | controller: first retry delay, doubling each retry |
 * | CIM_WEBHOOK_TIMEOUT_MS | 10000 | controller: one delivery attempt |
 */
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { webGpuAdapterKind, type WebGpuAdapterKind } from '@cim-forge/cim/webgpu-adapter';
import { s3OptionsFromEnv, type S3ConnectionOptions } from '@cim-forge/storage';
import { parseRedisUrlList, WIRE_NAMES, type WireName } from '@cim-forge/collective';
import { parseAllowedNetworks } from '@cim-forge/webhooks';
import { metricsTokenProblem } from '@cim-forge/telemetry';

export interface ServiceEnv {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  s3: S3ConnectionOptions;
  s3Bucket: string;
  workerId: string;
  metricsPort: number;
  /** METRICS_HOST: the metrics server's bind address */
  metricsHost: string;
  /** CIM_METRICS_TOKEN; undefined: /metrics answers anyone who reaches it */
  metricsToken: string | undefined;
  backend: string;
  webgpuAdapter: WebGpuAdapterKind;
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
  collectiveWire: WireName | 'auto';
  /** absolute; teams' areas are <dataRoot>/<team id>; undefined: no image folders on disk */
  dataRoot: string | undefined;
  dataCache: string;
  dataMaxBytes: number;
  webhooks: { allowedNetworks: string[]; attempts: number; backoffMs: number; timeoutMs: number };
}

export function readServiceEnv(env: Readonly<Record<string, string | undefined>>, role: 'worker' | 'controller'): ServiceEnv {
  const int = (name: string, dflt: number, min = 1) => {
    const v = env[name];
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL is required (e.g. postgresql://user@host:5432/cim)');
  const s3Bucket = env.S3_BUCKET ?? '';
  if (role === 'worker' && !s3Bucket) throw new Error('S3_BUCKET is required: checkpoints are written to S3');
  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  const collectiveRedisUrls = env.CIM_COLLECTIVE_REDIS_URLS ? parseRedisUrlList(env.CIM_COLLECTIVE_REDIS_URLS) : [redisUrl];
  for (const u of collectiveRedisUrls) {
    if (!/^rediss?:\/\/\S+$/.test(u)) throw new Error(`CIM_COLLECTIVE_REDIS_URLS must be redis:// or rediss:// URLs separated by commas, got "${u.replace(/:[^:@/]*@/, ':***@')}"`);
  }
  if (!collectiveRedisUrls.length) throw new Error('CIM_COLLECTIVE_REDIS_URLS names no URL');
  const metricsToken = env.CIM_METRICS_TOKEN || undefined;
  if (metricsToken !== undefined) {
    const problem = metricsTokenProblem(metricsToken);
    if (problem) throw new Error(problem);
  }
  const metricsHost = env.METRICS_HOST || '0.0.0.0';
  if (!/^[\w.:-]+$/.test(metricsHost)) throw new Error(`METRICS_HOST must be an address or host name, got "${metricsHost}"`);
  const collectiveWire = (env.CIM_COLLECTIVE_WIRE || 'auto') as WireName | 'auto';
  if (collectiveWire !== 'auto' && !WIRE_NAMES.includes(collectiveWire)) throw new Error(`CIM_COLLECTIVE_WIRE must be auto, ${WIRE_NAMES.join(', ')}; got "${collectiveWire}"`);
  return {
    databaseUrl,
    redisUrl,
    queuePrefix: env.CIM_QUEUE_PREFIX || 'bull',
    s3: s3OptionsFromEnv(env),
    s3Bucket,
    workerId: env.WORKER_ID || `${hostname()}-${process.pid}`,
    metricsPort: int('METRICS_PORT', role === 'worker' ? 9464 : 9465, 0),
    metricsHost,
    metricsToken,
    backend: env.CIM_BACKEND || 'auto',
    webgpuAdapter: webGpuAdapterKind(env.CIM_WEBGPU_ADAPTER),
    threads: env.CIM_THREADS ? int('CIM_THREADS', 1) : undefined,
    rendezvousTimeoutMs: int('CIM_RENDEZVOUS_TIMEOUT_MS', 120_000),
    collectiveTimeoutMs: int('CIM_COLLECTIVE_TIMEOUT_MS', 120_000),
    heartbeatMs: int('CIM_HEARTBEAT_MS', 2000),
    heartbeatTimeoutMs: int('CIM_HEARTBEAT_TIMEOUT_MS', 20_000),
    controllerLockMs: int('CIM_CONTROLLER_LOCK_MS', 30_000, 1000),
    collectiveRedisUrls,
    nodeName: env.NODE_NAME || undefined,
    collectiveSocketDir: env.CIM_COLLECTIVE_SOCKET_DIR || undefined,
    collectiveWire,
    dataRoot: absoluteDir(env, 'CIM_DATA_ROOT'),
    dataCache: absoluteDir(env, 'CIM_DATA_CACHE') ?? join(tmpdir(), 'cim-data'),
    dataMaxBytes: int('CIM_DATA_MAX_BYTES', 20 * 1024 ** 3),
    webhooks: {
      allowedNetworks: (() => {
        try {
          return parseAllowedNetworks(env.CIM_WEBHOOK_ALLOWED_NETWORKS);
        } catch (e) {
          throw new Error(`CIM_WEBHOOK_ALLOWED_NETWORKS: ${(e as Error).message}`);
        }
      })(),
      attempts: int('CIM_WEBHOOK_ATTEMPTS', 10),
      backoffMs: int('CIM_WEBHOOK_BACKOFF_MS', 5000),
      timeoutMs: int('CIM_WEBHOOK_TIMEOUT_MS', 10_000),
    },
  };
}

function absoluteDir(env: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!isAbsolute(v)) throw new Error(`${name} must be an absolute path, got "${v}"`);
  return v;
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
    CIM_BACKEND: env.backend,
    CIM_WEBGPU_ADAPTER: env.webgpuAdapter,
    CIM_RENDEZVOUS_TIMEOUT_MS: String(env.rendezvousTimeoutMs),
    CIM_COLLECTIVE_TIMEOUT_MS: String(env.collectiveTimeoutMs),
    CIM_HEARTBEAT_MS: String(env.heartbeatMs),
    CIM_HEARTBEAT_TIMEOUT_MS: String(env.heartbeatTimeoutMs),
    CIM_COLLECTIVE_REDIS_URLS: env.collectiveRedisUrls.join(','),
    CIM_COLLECTIVE_WIRE: env.collectiveWire,
  };
  if (env.metricsHost !== '0.0.0.0') out.METRICS_HOST = env.metricsHost;
  if (env.nodeName) out.NODE_NAME = env.nodeName;
  if (env.collectiveSocketDir) out.CIM_COLLECTIVE_SOCKET_DIR = env.collectiveSocketDir;
  if (env.threads !== undefined) out.CIM_THREADS = String(env.threads);
  out.CIM_DATA_CACHE = env.dataCache;
  out.CIM_DATA_MAX_BYTES = String(env.dataMaxBytes);
  if (env.dataRoot) out.CIM_DATA_ROOT = env.dataRoot;
  if (env.s3.endpoint) out.S3_ENDPOINT = env.s3.endpoint;
  if (env.s3.accessKeyId) out.S3_ACCESS_KEY_ID = env.s3.accessKeyId;
  if (env.s3.secretAccessKey) out.S3_SECRET_ACCESS_KEY = env.s3.secretAccessKey;
  if (env.s3.sessionToken) out.S3_SESSION_TOKEN = env.s3.sessionToken;
  if (env.s3.checksums) out.S3_CHECKSUMS = env.s3.checksums;
  return out;
}
