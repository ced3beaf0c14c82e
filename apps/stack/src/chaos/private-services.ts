/**
 * Private Redis and PostgreSQL servers for the outage scenarios, on free ports with their data
 * under /tmp, so a scenario can stop and start them without touching the shared ones (6379, 5432).
 * Redis keeps an append-only file fsynced on every write (a crash loses nothing, as with a
 * persistent production Redis); PostgreSQL is a fresh cluster run as the `postgres` OS user.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../stack.ts';
import { processEnv, SettingsReader } from '@cim-forge/settings';

export { freePort };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PrivateServer {
  url: string;
  /** crash it (SIGKILL for Redis, `pg_ctl stop -m immediate` for PostgreSQL) and wait until it is down */
  stop(): Promise<void>;
  /** start it again on the same port and data, and wait until it answers */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cim-chaos-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const server: PrivateServer = {
    url,
    async start() {
      proc = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--dir',
          dir,
          '--maxmemory-policy',
          'noeviction',
        ],
        { stdio: 'ignore' },
      );
      const deadline = Date.now() + 15_000;
      for (;;) {
        const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        c.on('error', () => {});
        try {
          await c.connect();
          if ((await c.ping()) === 'PONG') return;
        } catch {
          // not up yet
        } finally {
          c.disconnect();
        }
        if (Date.now() > deadline) throw new Error(`private redis on ${port} did not start`);
        await sleep(100);
      }
    },
    async stop() {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    },
    async close() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Debian's newest installed PostgreSQL (CI installs whichever version its image has), unless CIM_PG_BIN says */
const pgBin = new SettingsReader(processEnv(), 'dev').text('CIM_PG_BIN') ?? newestDebianPostgres() ?? '/usr/lib/postgresql/15/bin';

function newestDebianPostgres(): string | undefined {
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    return versions.length ? join('/usr/lib/postgresql', versions[0], 'bin') : undefined;
  } catch {
    return undefined;
  }
}

/** `cmd args…` as the postgres OS user (initdb and postgres refuse to run as root) */
function asPostgres(cmd: string, args: string[]): void {
  const r = spawnSync('runuser', ['-u', 'postgres', '--', join(pgBin, cmd), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.stdout}`);
}

export async function startPrivatePostgres(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'cim-chaos-pg-'));
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const server: PrivateServer = {
    url,
    async start() {
      asPostgres('pg_ctl', [
        '-D',
        data,
        '-l',
        join(dir, 'log'),
        '-w',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
        'start',
      ]);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const c = new pg.Client({ connectionString: url });
        try {
          await c.connect();
          await c.query('SELECT 1');
          return;
        } catch {
          // recovering
        } finally {
          await c.end().catch(() => {});
        }
        if (Date.now() > deadline) throw new Error(`private postgres on ${port} did not start`);
        await sleep(200);
      }
    },
    async stop() {
      asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async close() {
      try {
        asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already down
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
