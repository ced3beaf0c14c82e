/**
 * Every environment variable of every role, and the one reader that parses them. `SETTINGS` is the
 * table (name, roles, default, meaning) that README.md's "Settings" table is rendered from
 * (`settingsTable()`, checked by settings.test.ts); `SettingsReader` reads a variable only if the
 * table lists it for the reader's role, applies the table's default, parses it, and collects a
 * problem naming the variable instead of throwing at the first one; `done()` throws them all.
 *
 * The apps build their typed settings with it (apps/api/src/config.ts, apps/worker/src/service-env.ts,
 * apps/cli/src/settings.ts, apps/stack/src/dev.ts); checks that need a service lib this lib may not
 * import (CIDR lists, CORS origins, the metrics token's strength, wire names) run through `check()`.
 * Libs never read the environment: they take these values as parameters, and only apps import this
 * lib (eslint.config.mjs, tag `type:settings`).
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** the processes that read settings: the API, the controller, a worker (and its rank processes), the `cim` CLI, `npm run dev` */
export type Role = 'api' | 'controller' | 'worker' | 'cli' | 'dev';
export type Env = Readonly<Record<string, string | undefined>>;

export interface SettingSpec {
  name: string;
  roles: readonly Role[];
  /** the value used when the variable is unset or blank, per role; absent: none (or computed, see `shown`) */
  default?: string | Partial<Record<Role, string>>;
  /** the default as the docs show it, when it is not a plain value */
  shown?: string;
  meaning: string;
}

const SERVICES: readonly Role[] = ['api', 'controller', 'worker'];
const S3_ROLES: readonly Role[] = ['api', 'controller', 'worker', 'cli'];
/** apps/worker/src/service-env.ts reads one set of settings for both */
const WC: readonly Role[] = ['controller', 'worker'];
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const BACKEND_NAMES = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'] as const;
export const WEBGPU_ADAPTERS = ['gpu', 'software'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type WebGpuAdapterName = (typeof WEBGPU_ADAPTERS)[number];

export const SETTINGS: readonly SettingSpec[] = [
  {
    name: 'DATABASE_URL',
    roles: [...SERVICES, 'dev'],
    default: { dev: 'postgresql://postgres@127.0.0.1:5432/cim_dev' },
    shown: 'required; `postgresql://postgres@127.0.0.1:5432/cim_dev` in dev',
    meaning: 'PostgreSQL (`npm run db:migrate` applies `prisma/migrations`)',
  },
  {
    name: 'REDIS_URL',
    roles: [...SERVICES, 'cli', 'dev'],
    default: DEFAULT_REDIS_URL,
    meaning: 'the queues, cancel pub/sub and readiness; the all-reduce too unless `CIM_COLLECTIVE_REDIS_URLS` is set (`rediss://` for TLS)',
  },
  {
    name: 'CIM_COLLECTIVE_REDIS_URLS',
    roles: [...WC, 'cli'],
    shown: '`REDIS_URL`',
    meaning:
      "the gradient all-reduce's Redis servers, comma-separated; several shard every all-reduce (the chart deploys `collective.redis.shards`); the CLI's " +
      '`pretrain --ranks` default for `--redis` (formerly `CIM_REDIS_URL`)',
  },
  {
    name: 'CIM_QUEUE_PREFIX',
    roles: SERVICES,
    default: 'bull',
    meaning: 'BullMQ key prefix (also of the cancel channel); the same for the API, controller and workers',
  },
  {
    name: 'S3_BUCKET',
    roles: SERVICES,
    default: { controller: '' },
    shown: 'required (API, workers); `cim-dev` in dev',
    meaning: 'checkpoints go to `s3://$S3_BUCKET/runs/<run>/checkpoints/`',
  },
  {
    name: 'S3_ENDPOINT',
    roles: S3_ROLES,
    shown: 'AWS; `http://127.0.0.1:4569` in dev',
    meaning: 'any S3-compatible server (MinIO, s3rver)',
  },
  { name: 'S3_REGION', roles: S3_ROLES, shown: '`AWS_REGION`, else `us-east-1`', meaning: '' },
  { name: 'AWS_REGION', roles: S3_ROLES, default: 'us-east-1', meaning: 'the region when `S3_REGION` is unset' },
  { name: 'S3_ACCESS_KEY_ID', roles: S3_ROLES, shown: 'the AWS default chain; `S3RVER` in dev', meaning: 'set both keys or neither' },
  { name: 'S3_SECRET_ACCESS_KEY', roles: S3_ROLES, shown: 'the AWS default chain; `S3RVER` in dev', meaning: 'set both keys or neither' },
  { name: 'S3_SESSION_TOKEN', roles: S3_ROLES, meaning: 'temporary credentials' },
  { name: 'S3_FORCE_PATH_STYLE', roles: S3_ROLES, shown: '`true` when `S3_ENDPOINT` is set', meaning: '`true`/`false`/`1`/`0`' },
  { name: 'S3_CHECKSUMS', roles: S3_ROLES, meaning: "the SDK's request/response checksums: `when_required` or `when_supported`" },
  { name: 'S3_PORT', roles: ['dev'], default: '4569', meaning: "the dev stack's s3rver port" },
  { name: 'PORT', roles: ['api', 'dev'], default: '8080', meaning: "the API's port" },
  { name: 'HOST', roles: ['api'], default: '0.0.0.0', meaning: "the API's bind address" },
  {
    name: 'LOG_LEVEL',
    roles: SERVICES,
    default: 'info',
    meaning: 'pino level (`fatal` … `trace`, `silent`); logs are JSON lines on stdout',
  },
  {
    name: 'CIM_ADMIN_TOKEN',
    roles: ['api', 'dev'],
    default: { dev: 'dev-admin-token-0123456789abcdef' },
    shown: 'unset; `dev-admin-token-0123456789abcdef` in dev',
    meaning:
      'the bootstrap admin secret (≥ 24 characters); unset: only admin tokens stored in the database administer; workers, the controller and rank ' +
      'processes never get it',
  },
  {
    name: 'CIM_WORKER_MEMORY_MB',
    roles: ['api'],
    default: '81920',
    meaning: 'what one worker (rank) holds: runs estimated above it are refused',
  },
  {
    name: 'CIM_RATE_LIMIT_PER_MINUTE',
    roles: ['api'],
    default: '600',
    meaning: 'requests per minute per token on `/v1` (shared by replicas through Redis)',
  },
  {
    name: 'CIM_RATE_LIMIT_IP_PER_MINUTE',
    roles: ['api'],
    default: '1200',
    meaning:
      'requests per minute per client address on `/v1`, counted before the token is looked at (made-up tokens get 429, not endless 401s); ' +
      "behind a proxy set `CIM_TRUST_PROXY` so the address is the client's",
  },
  {
    name: 'CIM_TRUST_PROXY',
    roles: ['api'],
    shown: 'unset (the peer address is the client)',
    meaning:
      'the proxies in front of the API whose `X-Forwarded-For` is believed: a hop count (`1` behind one ingress) or comma-separated addresses/CIDRs; ' +
      'without it every client behind an ingress shares one per-address rate limit',
  },
  {
    name: 'CIM_STREAMS_PER_TOKEN',
    roles: ['api'],
    default: '5',
    meaning: 'open live streams (`/v1/stream`, `/v1/runs/:id/stream`) one token may hold on one API replica; one more is a 429',
  },
  {
    name: 'CIM_STREAMS_PER_TEAM',
    roles: ['api'],
    default: '20',
    meaning: "open live streams one team's tokens may hold together on one API replica; one more is a 429",
  },
  {
    name: 'CIM_STREAM_MAX_SECONDS',
    roles: ['api'],
    default: '3600',
    meaning: 'the longest a live stream stays open; it then ends with `event: end` and the client reconnects with `Last-Event-ID`',
  },
  {
    name: 'CIM_DEFAULT_MAX_QUEUED_RUNS',
    roles: ['api'],
    default: '100',
    meaning: "queued runs of a team with no quota of its own (an admin sets a team's with `PATCH /v1/teams/:id`)",
  },
  {
    name: 'CIM_DEFAULT_MAX_ACTIVE_RANKS',
    roles: ['api'],
    default: '64',
    meaning: 'ranks (queued, starting and running runs together) of a team with no quota of its own',
  },
  {
    name: 'CIM_IMPORTS_PER_TEAM',
    roles: ['api'],
    default: '100',
    meaning:
      'imports (`POST /v1/imports`) a team may hold, uploading or stored; one more is ' +
      '409 until one is deleted (`DELETE /v1/imports/:id`) or an abandoned one is swept',
  },
  {
    name: 'CIM_IMPORT_MIB_PER_TEAM',
    roles: ['api'],
    default: '102400',
    meaning: "bytes of a team's imports together, MiB (uploading and stored); an import that would pass it is 409",
  },
  {
    name: 'CIM_FIGURE_UPLOADS_PER_RUN',
    roles: ['api'],
    default: '10',
    meaning: 'uploaded figures (`POST /v1/runs/:id/figures`) of one run waiting to be drawn; one more is 409',
  },
  {
    name: 'CIM_CORS_ORIGINS',
    roles: ['api'],
    meaning: 'comma-separated exact browser origins allowed to call the API (a portal on another origin)',
  },
  {
    name: 'CIM_WEBHOOK_ALLOWED_NETWORKS',
    roles: ['api', ...WC],
    meaning: 'CIDRs webhooks may reach although private or loopback ([docs/webhooks.md](docs/webhooks.md))',
  },
  {
    name: 'CIM_METRICS_TOKEN',
    roles: SERVICES,
    shown: 'unset (a warning at start)',
    meaning:
      "set (≥ 24 characters): `/metrics` everywhere and the API's `/docs` need `Authorization: Bearer <it>` (401 otherwise); `/healthz`, `/readyz` stay " +
      'open; the chart sets it (`secrets.metricsToken`)',
  },
  { name: 'WORKER_ID', roles: WC, shown: 'host-pid', meaning: 'names the worker in rank attempts' },
  { name: 'METRICS_PORT', roles: WC, default: { controller: '9465', worker: '9464' }, meaning: '`/metrics`, `/healthz`, `/readyz`' },
  { name: 'METRICS_HOST', roles: WC, default: '0.0.0.0', meaning: "the metrics server's bind address (`127.0.0.1`: this host only)" },
  {
    name: 'CIM_BACKEND',
    roles: [...WC, 'cli'],
    default: 'auto',
    meaning:
      "`tensorflow` (tfjs-node-gpu or tfjs-node), `wasm`, `cpu` or `webgpu` (Vulkan; metrics labelled `webgpu:<adapter>`); the CLI's `--backend` wins",
  },
  {
    name: 'CIM_THREADS',
    roles: [...WC, 'cli'],
    shown: 'all cores',
    meaning:
      "the native backend's intra-op threads per rank process (set it when several CPU workers share a host; " +
      '`cim pretrain` and `cim finetune --ranks N` split the cores)',
  },
  {
    name: 'CIM_WEBGPU_ADAPTER',
    roles: [...WC, 'cli'],
    default: 'gpu',
    meaning: 'with `webgpu`: `gpu` (a real GPU over Vulkan) or `software` (Mesa llvmpipe; CI only)',
  },
  {
    name: 'CIM_RENDEZVOUS_TIMEOUT_MS',
    roles: WC,
    default: '120000',
    meaning: 'a gang must assemble within this, else it is released and requeued',
  },
  {
    name: 'CIM_COLLECTIVE_TIMEOUT_MS',
    roles: WC,
    default: '120000',
    meaning: 'one all-reduce may take this long before the rank is declared lost',
  },
  {
    name: 'NODE_NAME',
    roles: WC,
    meaning: "the worker's node (the chart sets it from `spec.nodeName`): ranks on one node sum locally, one per node talks to Redis",
  },
  {
    name: 'CIM_COLLECTIVE_SOCKET_DIR',
    roles: WC,
    shown: '`os.tmpdir()`',
    meaning: "where a node's ranks meet (Unix sockets); shared by the node's worker pods (a hostPath in the chart)",
  },
  {
    name: 'CIM_COLLECTIVE_SHM_DIR',
    roles: WC,
    shown: '`/dev/shm` (Linux), else the temp directory',
    meaning:
      "where a node's ranks exchange gradients through shared files (absolute; must be tmpfs, shared by the node's worker pods: " +
      'a hostPath in the chart); `none`: through the Unix sockets only',
  },
  {
    name: 'CIM_COLLECTIVE_WIRE',
    roles: WC,
    default: 'auto',
    meaning: 'gradients on the Redis wire: `auto` (bfloat16 across nodes, else float32), `float32`, `bfloat16`, `float16`',
  },
  {
    name: 'CIM_COLLECTIVE_TRANSPORT',
    roles: [...WC, 'cli'],
    default: 'redis',
    meaning:
      'what carries the gradient all-reduce: `redis` (Redis Streams) or `gloo` (Gloo over TCP rank to rank, or node leader to node leader ' +
      "with `NODE_NAME`; Redis only for the rendezvous; needs Debian's libgloo-dev at install); the CLI's `pretrain --ranks` default for `--transport`",
  },
  {
    name: 'CIM_GLOO_HOST',
    roles: WC,
    shown: 'the host name',
    meaning: "transport `gloo`: the address this worker's ranks listen on for their peers (a pod's IP; it must reach the other nodes)",
  },
  { name: 'CIM_HEARTBEAT_MS', roles: WC, default: '2000', meaning: 'how often a worker heartbeats its rank attempt' },
  {
    name: 'CIM_HEARTBEAT_TIMEOUT_MS',
    roles: WC,
    default: '20000',
    meaning: 'the silence after which the controller declares a rank lost and the gang restarts',
  },
  {
    name: 'CIM_CONTROLLER_LOCK_MS',
    roles: WC,
    default: '30000',
    meaning: "a dead controller's runs move to another controller after about this long",
  },
  {
    name: 'CIM_DATA_ROOT',
    roles: [...WC, 'dev'],
    default: { dev: '.cache/data' },
    shown: 'none; `.cache/data` in dev',
    meaning: "teams' data areas on disk (absolute): a run's image folder `root` is `$CIM_DATA_ROOT/<team id>/<root>`",
  },
  {
    name: 'CIM_DATA_CACHE',
    roles: WC,
    shown: '`<tmp>/cim-data`',
    meaning: "where a run's image folder in `s3://$S3_BUCKET/data/<team id>/<root>/` is fetched (absolute)",
  },
  {
    name: 'CIM_DATA_MAX_BYTES',
    roles: [...WC, 'cli'],
    default: '21474836480',
    meaning: 'at most how many bytes one rank (or `cim --dataset s3://…`) fetches from S3 (20 GiB)',
  },
  {
    name: 'CIM_CACHE_DIR',
    roles: ['cli', 'worker'],
    shown: '`$XDG_CACHE_HOME/cim-forge`, else `~/.cache/cim-forge`',
    meaning: 'derived data (the Fashion-MNIST binary, `s3://` data sets fetched by the CLI)',
  },
  { name: 'XDG_CACHE_HOME', roles: ['cli', 'worker'], meaning: 'see `CIM_CACHE_DIR`' },
  {
    name: 'CIM_PG_BIN',
    roles: ['dev'],
    meaning: "the chaos tests' PostgreSQL binaries (`initdb`, `postgres`); unset: Debian's newest installed `/usr/lib/postgresql/N/bin`",
  },
  {
    name: 'CHROMIUM_PATH',
    roles: ['dev'],
    shown: '`chromium`, `chromium-browser` or `google-chrome` on PATH',
    meaning: "the portal tests' browser",
  },
  { name: 'CIM_WEBHOOK_ATTEMPTS', roles: WC, default: '10', meaning: 'attempts per webhook delivery, the first included' },
  { name: 'CIM_WEBHOOK_BACKOFF_MS', roles: WC, default: '5000', meaning: 'the first webhook retry delay, doubling each retry' },
  { name: 'CIM_WEBHOOK_TIMEOUT_MS', roles: WC, default: '10000', meaning: 'one webhook delivery attempt' },
  { name: 'CIM_DEBUG', roles: ['cli'], meaning: 'set: an unexpected error prints its stack' },
  {
    name: 'CIM_SIMD',
    roles: ['cli'],
    default: 'on',
    meaning: "`npm run bench:allreduce`: `off` sums with the collective's scalar loops instead of its WebAssembly SIMD kernels",
  },
  {
    name: 'CIM_SHM',
    roles: ['cli'],
    default: 'mmap',
    meaning: "`npm run bench:allreduce`'s node-local lane: `mmap` (the addon), `pread` (pread/pwrite files) or `off` (Unix sockets)",
  },
  {
    name: 'CIM_SHM_REDUCE',
    roles: ['cli'],
    default: 'scatter',
    meaning:
      '`npm run bench:allreduce` on shared memory: `scatter` (each rank of a node sums 1/G of the elements) or `leader` ' +
      '(the node leader sums every rank alone)',
  },
  {
    name: 'CIM_FAULT_INJECTION',
    roles: ['worker'],
    default: 'off',
    meaning:
      '`off`, or `chaos-tests-only`: allows the `CIM_FAULT_*` settings (the chaos suite and tests); refused when `NODE_ENV` is ' +
      '`production` (every image sets it), and a `CIM_FAULT_*` setting without it stops the worker at start',
  },
  {
    name: 'CIM_FAULT_NON_FINITE_LOSS',
    roles: ['worker'],
    meaning:
      'fault injection (needs `CIM_FAULT_INJECTION`): `<run name>@<step>` makes the loss of the runs of that name NaN once that many ' +
      'optimizer steps are done, on every rank; the run then fails as a non-finite loss does (`non-finite loss (NaN) at step <step>`)',
  },
];

/** the value of CIM_FAULT_INJECTION that turns fault injection on (a phrase, not `1`, so it is never set by accident) */
export const FAULT_INJECTION_ON = 'chaos-tests-only';

/** a test-only fault the worker injects into its ranks (libs/engine takes it as `faults`) */
export interface FaultSettings {
  /** runs named `runName` get a NaN loss once `step` optimizer steps are done */
  nonFiniteLoss?: { runName: string; step: number };
}

/** names that were renamed: setting one is a problem that names the new one */
export const RENAMED_SETTINGS: Readonly<Record<string, string>> = { CIM_REDIS_URL: 'CIM_COLLECTIVE_REDIS_URLS' };

const ROLE_LABEL: Record<Role, string> = { api: 'API', controller: 'controller', worker: 'workers', cli: 'CLI', dev: 'dev' };

/** README.md's settings table (every variable, the roles that read it, its default, its meaning) */
export function settingsTable(): string {
  const cell = (s: SettingSpec) => {
    if (s.shown !== undefined) return s.shown;
    if (s.default === undefined) return 'unset';
    if (typeof s.default === 'string') return `\`${s.default}\``;
    return Object.entries(s.default)
      .map(([r, v]) => `\`${v}\` (${ROLE_LABEL[r as Role]})`)
      .join(', ');
  };
  return [
    '| variable | read by | default | meaning |',
    '| --- | --- | --- | --- |',
    ...SETTINGS.map((s) => `| \`${s.name}\` | ${s.roles.map((r) => ROLE_LABEL[r]).join(', ')} | ${cell(s)} | ${s.meaning} |`),
  ].join('\n');
}

/** S3 connection options, the same shape as libs/storage's `S3ConnectionOptions` */
export interface S3Settings {
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  forcePathStyle?: boolean;
  checksums?: 'when_required' | 'when_supported';
}

/**
 * This process's environment: the one place outside the native-library variables (TensorFlow's,
 * EGL's, set by libs/cim's backend layer) where code reads `process.env`. Apps hand it to a
 * SettingsReader; libs never see it.
 */
export function processEnv(): Env {
  return process.env;
}

/** a child process's environment: this one's, with `extra` set (children read it with their own reader) */
export function childProcessEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra };
}

/** mask the password of a URL in a message */
export function maskUrl(u: string): string {
  return u.replace(/:[^:@/]*@/, ':***@');
}

export class SettingsReader {
  readonly problems: string[] = [];
  private readonly specs = new Map(SETTINGS.map((s) => [s.name, s]));

  constructor(
    readonly env: Env,
    readonly role: Role,
  ) {
    for (const [old, now] of Object.entries(RENAMED_SETTINGS)) {
      if (env[old] !== undefined && env[old] !== '') this.problems.push(`${old} was renamed ${now}; set that instead`);
    }
  }

  /** the value as set (blank = unset), else the table's default for this role */
  text(name: string): string | undefined {
    const spec = this.specs.get(name);
    if (!spec || !spec.roles.includes(this.role)) {
      throw new Error(`settings: ${name} is not a ${this.role} setting (add it to SETTINGS in libs/settings/src/settings.ts)`);
    }
    const v = this.env[name];
    if (v !== undefined && v !== '') return v;
    const d = spec.default;
    return typeof d === 'string' ? d : d?.[this.role];
  }

  /** where derived data is cached: `CIM_CACHE_DIR`, else `$XDG_CACHE_HOME/cim-forge`, else `~/.cache/cim-forge` */
  cacheDir(): string {
    const dir = this.text('CIM_CACHE_DIR');
    if (dir) return dir;
    const xdg = this.text('XDG_CACHE_HOME');
    return xdg ? join(xdg, 'cim-forge') : join(homedir(), '.cache', 'cim-forge');
  }

  /** whether the variable is set (not blank) in the environment */
  isSet(name: string): boolean {
    this.text(name);
    const v = this.env[name];
    return v !== undefined && v !== '';
  }

  required(name: string, hint: string): string {
    const v = this.text(name);
    if (v === undefined) this.problems.push(`${name} is required (${hint})`);
    return v ?? '';
  }

  /** an integer in [min, max]; undefined when unset without a default */
  optionalInt(name: string, o: { min?: number; max?: number; unit?: string } = {}): number | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    const min = o.min ?? 1;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || (o.max !== undefined && n > o.max)) {
      const range = o.max === undefined ? `≥ ${min}` : `in [${min}, ${o.max}]`;
      this.problems.push(`${name} must be an integer ${range}${o.unit ? ` (${o.unit})` : ''}, got "${v}"`);
      return min;
    }
    return n;
  }

  int(name: string, o: { min?: number; max?: number; unit?: string } = {}): number {
    const n = this.optionalInt(name, o);
    if (n === undefined) throw new Error(`settings: ${name} has no default for ${this.role}`);
    return n;
  }

  /** a URL whose protocol is one of `protocols` (e.g. ['redis:', 'rediss:']) */
  url(name: string, protocols: readonly string[]): string | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      this.problems.push(`${name} is not a URL: "${maskUrl(v)}"`);
      return v;
    }
    if (!protocols.includes(u.protocol))
      this.problems.push(`${name} must start with ${protocols.map((p) => p + '//').join(' or ')}, got "${u.protocol}//…"`);
    return v;
  }

  /** comma-separated redis:// or rediss:// URLs (blank entries dropped); `fallback` when unset */
  redisUrls(name: string, fallback: string[]): string[] {
    const v = this.text(name);
    if (v === undefined) return fallback;
    const urls = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const u of urls) {
      if (!/^rediss?:\/\/\S+$/.test(u)) {
        this.problems.push(`${name} must be redis:// or rediss:// URLs separated by commas, got "${maskUrl(u)}"`);
        return fallback;
      }
    }
    if (!urls.length) this.problems.push(`${name} names no URL`);
    return urls.length ? urls : fallback;
  }

  oneOf<T extends string>(name: string, values: readonly T[], message?: (v: string) => string): T {
    const v = this.text(name) as T;
    if (!values.includes(v)) {
      this.problems.push(message ? message(v) : `${name} must be one of ${values.join(', ')}, got "${v}"`);
      return values[0];
    }
    return v;
  }

  /** true/false/1/0; undefined when unset */
  bool(name: string): boolean | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    if (!['true', 'false', '1', '0'].includes(v)) {
      this.problems.push(`${name} must be true, false, 1 or 0, got "${v}"`);
      return undefined;
    }
    return v === 'true' || v === '1';
  }

  absolutePath(name: string): string | undefined {
    const v = this.text(name);
    if (v !== undefined && !isAbsolute(v)) this.problems.push(`${name} must be an absolute path, got "${v}"`);
    return v;
  }

  /** a host name or address */
  host(name: string): string {
    const v = this.text(name) ?? '';
    if (!/^[\w.:-]+$/.test(v)) this.problems.push(`${name} must be an address or host name, got "${v}"`);
    return v;
  }

  /**
   * A check from a lib this one may not import: `parse` gets the value (or the default) and
   * returns the result, or throws; its message is recorded, prefixed with the name unless it names it.
   */
  check<T>(name: string, parse: (value: string | undefined) => T, fallback: T): T {
    try {
      return parse(this.text(name));
    } catch (e) {
      const m = (e as Error).message;
      this.problems.push(m.startsWith(name) ? m : `${name}: ${m}`);
      return fallback;
    }
  }

  /** the value (or default) if `problem` finds none in it; `problem` is a check from a lib this one may not import */
  validate(name: string, problem: (value: string) => string | undefined): string | undefined {
    const v = this.text(name);
    const p = v === undefined ? undefined : problem(v);
    if (p) this.problems.push(p.startsWith(name) ? p : `${name}: ${p}`);
    return v;
  }

  /**
   * The test-only faults (CIM_FAULT_*): none unless CIM_FAULT_INJECTION is the exact phrase
   * `chaos-tests-only` and NODE_ENV is not `production`. A fault setting without that switch, or the
   * switch in production, is a problem (the process refuses to start), never silently ignored.
   */
  faults(): FaultSettings {
    const mode = this.text('CIM_FAULT_INJECTION');
    const faultVars = Object.keys(this.env).filter((k) => k.startsWith('CIM_FAULT_') && k !== 'CIM_FAULT_INJECTION' && this.env[k]);
    if (mode !== 'off' && mode !== FAULT_INJECTION_ON) {
      this.problems.push(`CIM_FAULT_INJECTION must be off or ${FAULT_INJECTION_ON}, got "${mode}"`);
      return {};
    }
    if (mode === FAULT_INJECTION_ON && this.env.NODE_ENV === 'production') {
      this.problems.push(
        'CIM_FAULT_INJECTION is refused when NODE_ENV is production: fault injection is for tests and the chaos suite only',
      );
      return {};
    }
    if (mode === 'off') {
      if (faultVars.length)
        this.problems.push(
          `${faultVars.join(', ')} set without CIM_FAULT_INJECTION=${FAULT_INJECTION_ON}: fault injection is for tests only; unset it`,
        );
      return {};
    }
    for (const k of faultVars) if (!this.specs.has(k)) this.problems.push(`${k} is not a fault setting (CIM_FAULT_NON_FINITE_LOSS is)`);
    const faults: FaultSettings = {};
    const nan = this.text('CIM_FAULT_NON_FINITE_LOSS');
    if (nan !== undefined) {
      const m = /^([^@\s]+)@(\d+)$/.exec(nan);
      if (!m || Number(m[2]) < 1) this.problems.push(`CIM_FAULT_NON_FINITE_LOSS must be <run name>@<step ≥ 1>, got "${nan}"`);
      else faults.nonFiniteLoss = { runName: m[1], step: Number(m[2]) };
    }
    return faults;
  }

  /** S3_* (see the table); the API, the controller, the workers and the CLI connect with it */
  s3(): S3Settings {
    const endpoint = this.url('S3_ENDPOINT', ['http:', 'https:']);
    const pathStyle = this.bool('S3_FORCE_PATH_STYLE');
    const checksums = this.text('S3_CHECKSUMS');
    if (checksums !== undefined && checksums !== 'when_required' && checksums !== 'when_supported') {
      this.problems.push(`S3_CHECKSUMS must be when_required or when_supported, got "${checksums}"`);
    }
    const s3: S3Settings = {
      endpoint,
      region: this.text('S3_REGION') ?? this.text('AWS_REGION')!,
      accessKeyId: this.text('S3_ACCESS_KEY_ID'),
      secretAccessKey: this.text('S3_SECRET_ACCESS_KEY'),
      sessionToken: this.text('S3_SESSION_TOKEN'),
      forcePathStyle: pathStyle ?? endpoint !== undefined,
      checksums: checksums as S3Settings['checksums'],
    };
    if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
      this.problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
    }
    return s3;
  }

  logLevel(): LogLevel {
    return this.oneOf('LOG_LEVEL', LOG_LEVELS, (v) => `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${v}"`);
  }

  webGpuAdapter(): WebGpuAdapterName {
    return this.oneOf(
      'CIM_WEBGPU_ADAPTER',
      WEBGPU_ADAPTERS,
      (v) => `CIM_WEBGPU_ADAPTER: unknown WebGPU adapter "${v}": use gpu or software`,
    );
  }

  /**
   * Throws every problem: one alone as its own message, several as `invalid <what> configuration:` and
   * one line each.
   */
  done(what: string): void {
    if (this.problems.length === 1) throw new Error(this.problems[0]);
    if (this.problems.length) throw new Error(`invalid ${what} configuration:\n  - ${this.problems.join('\n  - ')}`);
  }
}
