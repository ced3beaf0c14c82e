/**
 * K private `redis-server` processes on free loopback ports, for the simulated cluster (tests,
 * `npm run bench:allreduce -- --shards K`, `cim pretrain --shards K`). No persistence; each is
 * killed by `stop()` (idempotent) and, should this process exit first, by its own exit handler.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface LocalRedisServers {
  urls: string[];
  pids: number[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function ping(url: string, deadline: number): Promise<void> {
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`redis-server at ${url} did not answer: ${(e as Error).message}`);
      await new Promise((res) => setTimeout(res, 50));
    } finally {
      r.disconnect();
    }
  }
}

export async function startLocalRedisServers(count: number, o: { timeoutMs?: number } = {}): Promise<LocalRedisServers> {
  const procs: ChildProcess[] = [];
  const kill = () => procs.forEach((p) => p.exitCode === null && p.signalCode === null && p.kill('SIGKILL'));
  process.once('exit', kill);
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      process.off('exit', kill);
      await Promise.all(
        procs.map((p) =>
          p.exitCode !== null || p.signalCode !== null
            ? undefined
            : new Promise<void>((res) => {
                p.once('exit', () => res());
                p.kill('SIGKILL');
              }),
        ),
      );
    })());
  try {
    const urls: string[] = [];
    for (let k = 0; k < count; k++) {
      const port = await freePort();
      const p = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
        { stdio: 'ignore' },
      );
      procs.push(p);
      await new Promise<void>((resolve, reject) => {
        p.once('error', (e) => reject(new Error(`cannot start redis-server (is it installed?): ${e.message}`)));
        p.once('spawn', () => resolve());
      });
      urls.push(`redis://127.0.0.1:${port}`);
    }
    const deadline = Date.now() + (o.timeoutMs ?? 10_000);
    await Promise.all(urls.map((u) => ping(u, deadline)));
    return { urls, pids: procs.map((p) => p.pid!), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
