/**
 * The whole service on one machine: an S3-compatible server (s3rver, in this process), our
 * migrations on PostgreSQL, then the API, the controller and N workers as child processes — the
 * same entry points the images run — against Redis and PostgreSQL on localhost. `npm run dev`
 * and the end-to-end test both start it here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import S3rver from 's3rver';
import { migrate } from '@cim-forge/db';
import { childProcessEnv } from '@cim-forge/settings';

/** A TCP port on 127.0.0.1 that was free a moment ago (for the stack's servers in tests and dev). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entry = {
  api: 'apps/api/src/main.ts',
  controller: 'apps/worker/src/controller-main.ts',
  worker: 'apps/worker/src/worker-main.ts',
};

export interface StackOptions {
  databaseUrl: string;
  /** CREATE DATABASE when it does not exist (dev) */
  createDatabase?: boolean;
  redisUrl?: string;
  queuePrefix?: string;
  apiPort: number;
  /** 0 = any free port */
  s3Port?: number;
  s3Directory: string;
  bucket?: string;
  workers?: number;
  adminToken: string;
  backend?: string;
  /** first metrics port; worker i gets base + 1 + i, the controller base */
  metricsPortBase?: number;
  /** extra env for every service */
  env?: Record<string, string>;
  /** a service's output line */
  onLine?(service: string, line: string): void;
  /**
   * How a service starts (default: `node --import tsx <its TypeScript entry>` in this checkout).
   * `npm run images:check` runs each in a container instead; the process it returns must forward
   * signals to the service (`docker run` does) and exit when the service does.
   */
  launch?(service: Service, name: string, env: Record<string, string>): { command: string; args: string[] };
  /** applies the migrations (default: in this process, from prisma/migrations) */
  migrate?(databaseUrl: string): Promise<void>;
}

export type Service = keyof typeof entry;

export interface Stack {
  apiUrl: string;
  s3Endpoint: string;
  bucket: string;
  env: Record<string, string>;
  processes: Map<string, ChildProcess>;
  /** Sends `signal` to a service ('api', 'controller', 'worker-0', …) and waits until it has exited. */
  stop(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped service again, as it was started first (the API: and waits until it is ready). */
  start(name: string): Promise<void>;
  /** stop, then start: a redeploy (SIGTERM) or a crash and a restart (SIGKILL) */
  restart(name: string, signal?: NodeJS.Signals): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  if (o.createDatabase) await ensureDatabase(o.databaseUrl);
  await (o.migrate ?? migrate)(o.databaseUrl);
  await mkdir(o.s3Directory, { recursive: true });
  const bucket = o.bucket ?? 'cim-dev';
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: o.s3Port ?? 0,
    silent: true,
    directory: o.s3Directory,
    configureBuckets: [{ name: bucket }],
  });
  const s3Address = (await s3.run()) as AddressInfo;
  const s3Endpoint = `http://127.0.0.1:${s3Address.port}`;
  const metricsBase = o.metricsPortBase ?? 9465;
  const env: Record<string, string> = {
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl ?? 'redis://127.0.0.1:6379',
    CIM_QUEUE_PREFIX: o.queuePrefix ?? 'bull',
    S3_ENDPOINT: s3Endpoint,
    S3_BUCKET: bucket,
    S3_REGION: 'us-east-1',
    // s3rver's fixed credentials
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
    CIM_ADMIN_TOKEN: o.adminToken,
    CIM_BACKEND: o.backend ?? 'auto',
    ...o.env,
  };
  const processes = new Map<string, ChildProcess>();
  const start = (name: string, service: Service, extra: Record<string, string>) => {
    const serviceEnv = { ...env, ...extra };
    const { command, args } = o.launch?.(service, name, serviceEnv) ?? {
      command: process.execPath,
      args: ['--import', 'tsx', entry[service]],
    };
    const child = spawn(command, args, {
      cwd: root,
      env: childProcessEnv(serviceEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.on('data', (b: Buffer) => {
        const lines = (rest + b.toString()).split('\n');
        rest = lines.pop()!;
        for (const l of lines) o.onLine?.(name, l);
      });
    }
    processes.set(name, child);
    specs.set(name, { service, extra });
  };
  const specs = new Map<string, { service: Service; extra: Record<string, string> }>();
  start('api', 'api', { PORT: String(o.apiPort), HOST: '127.0.0.1' });
  start('controller', 'controller', { METRICS_PORT: String(metricsBase) });
  for (let i = 0; i < (o.workers ?? 1); i++)
    start(`worker-${i}`, 'worker', { WORKER_ID: `worker-${i}`, METRICS_PORT: String(metricsBase + 1 + i) });
  const apiUrl = `http://127.0.0.1:${o.apiPort}`;
  const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  const known = (name: string) => {
    const c = processes.get(name);
    if (!c) throw new Error(`no service ${name}; the stack runs ${[...processes.keys()].join(', ')}`);
    return c;
  };
  let closing: Promise<void> | undefined;
  const stack: Stack = {
    apiUrl,
    s3Endpoint,
    bucket,
    env,
    processes,
    async stop(name, signal = 'SIGTERM') {
      const c = known(name);
      if (exited(c)) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill(signal);
      await gone;
    },
    async start(name) {
      if (!exited(known(name))) throw new Error(`${name} is running`);
      if (closing) throw new Error('the stack is closing');
      const spec = specs.get(name)!;
      start(name, spec.service, spec.extra);
      if (name === 'api') await waitForReady(`${apiUrl}/readyz`, 60_000, processes.get('api')!);
    },
    async restart(name, signal = 'SIGTERM') {
      await stack.stop(name, signal);
      await stack.start(name);
    },
    close() {
      closing ??= (async () => {
        const exits = [...processes.values()]
          .filter((c) => c.exitCode === null && c.signalCode === null)
          .map((c) => new Promise((r) => c.once('exit', r)));
        for (const c of processes.values()) c.kill('SIGTERM');
        const timer = setTimeout(() => processes.forEach((c) => c.exitCode === null && c.kill('SIGKILL')), 15_000);
        await Promise.all(exits);
        clearTimeout(timer);
        await s3.close();
      })();
      return closing;
    },
  };
  try {
    await waitForReady(`${apiUrl}/readyz`, 60_000, processes.get('api')!);
  } catch (e) {
    await stack.close();
    throw e;
  }
  return stack;
}

async function waitForReady(url: string, timeoutMs: number, api: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (api.exitCode !== null) throw new Error(`the API exited (code ${api.exitCode}) before it was ready`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms`);
}

async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  if (!/^[\w-]+$/.test(name)) throw new Error(`database name "${name}" must be letters, digits, _ or -`);
  u.pathname = '/postgres';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE "${name}"`);
  } finally {
    await c.end();
  }
}
