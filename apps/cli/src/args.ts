/** Small helpers over node:util parseArgs: typed numbers with clear errors, the backend, the CLI's settings. */
import { availableParallelism } from 'node:os';
import { BACKEND_CHOICES, initBackend, type BackendChoice } from '@cim-forge/cim';
import type { WebGpuAdapterKind } from '@cim-forge/cim/config';
import { setDefaultCacheDir } from '@cim-forge/data';
import { processEnv, SettingsReader, type Env, type S3Settings } from '@cim-forge/settings';

export class UsageError extends Error {
  override name = 'UsageError';
}

export function num(flag: string, v: string | undefined, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    const what = opts.int ? 'an integer' : 'a number';
    throw new UsageError(`--${flag} must be ${what}${opts.min !== undefined ? ` >= ${opts.min}` : ''}, got "${v}"`);
  }
  return n;
}

/** A flag that must be one of `allowed`: narrowed to that union, or a UsageError naming the choices. */
export function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag}: ${flag} "${v}" is not one of ${allowed.join(', ')}`);
  return v as T;
}

export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The tfjs backend of a command: `--backend`, else `CIM_BACKEND`, else auto. Native threads:
 * `CIM_THREADS`, which `pretrain --ranks N` sets for its ranks (the cores split between them);
 * one process alone uses every core.
 */
export function initCliBackend(flag: string | undefined, log?: (m: string) => void) {
  const settings = cliSettings();
  const choice = flag ?? settings.backend;
  if (!BACKEND_CHOICES.includes(choice as BackendChoice)) {
    throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got "${choice}"`);
  }
  // libs/data caches where the settings say (CIM_CACHE_DIR, XDG_CACHE_HOME); it never reads the environment
  setDefaultCacheDir(settings.cacheDir);
  return initBackend(choice as BackendChoice, log, { threads: settings.threads, webgpuAdapter: webGpuAdapter() });
}

let webGpuAdapterFlag: WebGpuAdapterKind | undefined;

/** `--webgpu-adapter` as main took it out of argv (webgpu-flag.ts); it wins over CIM_WEBGPU_ADAPTER */
export function setWebGpuAdapterFlag(kind: WebGpuAdapterKind | undefined): void {
  webGpuAdapterFlag = kind;
}

/** the WebGPU adapter this process asks for: --webgpu-adapter, else CIM_WEBGPU_ADAPTER (gpu by default) */
export function webGpuAdapter(): WebGpuAdapterKind {
  return webGpuAdapterFlag ?? cliSettings().webgpuAdapter;
}

/** the flag as given, for a command that starts more `cim` processes (pretrain --ranks) */
export function webGpuAdapterArgs(): string[] {
  return webGpuAdapterFlag ? ['--webgpu-adapter', webGpuAdapterFlag] : [];
}

/** Native threads for each of `ranks` processes sharing this machine's cores. */
export function threadsPerRank(ranks: number): number {
  return Math.max(1, Math.floor(availableParallelism() / ranks));
}

/** The CLI's environment (libs/settings' table, role `cli`); flags win over it. */
export interface CliSettings {
  /** CIM_BACKEND (checked with --backend's message by initCliBackend) */
  backend: string;
  /** CIM_THREADS: native intra-op threads; undefined = all cores */
  threads: number | undefined;
  /** CIM_COLLECTIVE_REDIS_URLS, else REDIS_URL: `pretrain --ranks`' default for --redis */
  collectiveRedisUrls: string[];
  /** CIM_COLLECTIVE_TRANSPORT: `pretrain --ranks`' default for --transport */
  collectiveTransport: string;
  /** CIM_DATA_MAX_BYTES: at most this much of an s3:// data set is fetched */
  dataMaxBytes: number;
  /** CIM_WEBGPU_ADAPTER: the WebGPU adapter (--webgpu-adapter wins) */
  webgpuAdapter: WebGpuAdapterKind;
  /** CIM_CACHE_DIR, else $XDG_CACHE_HOME/cim-forge, else ~/.cache/cim-forge */
  cacheDir: string;
  s3: S3Settings;
}

/** Read when a command needs it (not at import), so an invalid variable fails only the commands that read settings, as a usage error. */
export function cliSettings(env: Env = processEnv()): CliSettings {
  const r = new SettingsReader(env, 'cli');
  const redisUrl = r.url('REDIS_URL', ['redis:', 'rediss:'])!;
  const settings: CliSettings = {
    backend: r.text('CIM_BACKEND')!,
    threads: r.optionalInt('CIM_THREADS'),
    collectiveRedisUrls: r.redisUrls('CIM_COLLECTIVE_REDIS_URLS', [redisUrl]),
    collectiveTransport: r.text('CIM_COLLECTIVE_TRANSPORT')!,
    dataMaxBytes: r.int('CIM_DATA_MAX_BYTES'),
    webgpuAdapter: r.webGpuAdapter(),
    cacheDir: r.cacheDir(),
    s3: r.s3(),
  };
  try {
    r.done('cim');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return settings;
}

/** CIM_DEBUG: an unexpected error prints its stack */
export function debugStacks(env: Env = processEnv()): boolean {
  return new SettingsReader(env, 'cli').isSet('CIM_DEBUG');
}
