import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CollectiveTimeoutError } from './collective-timeout-error.ts';
import { RedisCollective } from './redis-collective.ts';
import { RedisUnreachableError } from './redis-unreachable-error.ts';
import { adminRedis, deleteKeysWithPrefix, joinGang, testPrefix } from './test-support.ts';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

const admin = adminRedis();
const prefixes: string[] = [];
after(async () => {
  for (const p of prefixes) await deleteKeysWithPrefix(admin, p);
  admin.disconnect();
});
function prefix(name: string): string {
  const p = testPrefix(name);
  prefixes.push(p);
  return p;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kills the Redis client whose CLIENT SETNAME is `name`. */
async function killClient(name: string): Promise<void> {
  const list = await admin.client('LIST');
  const line = String(list)
    .split('\n')
    .find((l) => l.includes(` name=${name} `));
  assert.ok(line, `no client named ${name}`);
  await admin.client('KILL', 'ID', /id=(\d+)/.exec(line)![1]);
}

test('timeout: only rank 0 all-reduces → it rejects after ~1 s naming rank 1', async () => {
  const keyPrefix = prefix('silent');
  const gang = await joinGang(2, { keyPrefix, timeoutMs: 1000 });
  const t0 = Date.now();
  const e = await gang[0].allReduceMean(new Float32Array(1000)).catch((err: Error) => err);
  const ms = Date.now() - t0;
  assert.ok(e instanceof CollectiveTimeoutError);
  assert.equal(e.message, 'all-reduce 1 timed out after 1000 ms waiting for rank 1 (rank 1 is still at operation 0)');
  assert.deepEqual(e.missingRanks, [1]);
  assert.ok(ms >= 990 && ms < 2000, `${ms} ms`);
  // the rank is now out of step: later operations say so at once
  await assert.rejects(gang[0].barrier(), /cannot start barrier: an earlier operation failed.*all-reduce 1 timed out/);
  await Promise.all(gang.map((c) => c.close()));
});

test('kill -9 of a rank process mid all-reduce: the survivor rejects within the timeout, naming it', async () => {
  const keyPrefix = prefix('kill');
  const timeoutMs = 1500;
  const fixture = fileURLToPath(new URL('./fixtures/rank-loop.ts', import.meta.url));
  const children: ChildProcess[] = [];
  const events: Record<string, unknown>[][] = [[], []];
  const waitFor = (rank: number, pred: (ev: Record<string, unknown>) => boolean, ms: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`rank ${rank}: no such event within ${ms} ms; saw ${JSON.stringify(events[rank].slice(-3))}`)),
        ms,
      );
      const poll = setInterval(() => {
        const ev = events[rank].find(pred);
        if (ev) {
          clearTimeout(timer);
          clearInterval(poll);
          resolve(ev);
        }
      }, 5);
    });
  for (const rank of [0, 1]) {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fixture,
        JSON.stringify({ keyPrefix, runId: 'kill', rank, worldSize: 2, timeoutMs, rendezvousTimeoutMs: 20_000, length: 100_000 }),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    createInterface({ input: child.stdout! }).on('line', (l) => events[rank].push({ ...JSON.parse(l), seenAt: Date.now() }));
    children.push(child);
  }
  try {
    await waitFor(0, (ev) => ev.event === 'progress' && (ev.op as number) >= 20, 20_000);
    const exited = new Promise((resolve) => children[0].on('exit', resolve));
    const killedAt = Date.now();
    children[1].kill('SIGKILL');
    const err = await waitFor(0, (ev) => ev.event === 'error', timeoutMs + 3000);
    const ms = (err.at as number) - killedAt;
    console.log(`survivor rejected ${ms} ms after kill -9 (timeout ${timeoutMs} ms) at op ${err.op}: ${err.message}`);
    assert.match(err.message as string, new RegExp(`^all-reduce \\d+ timed out after ${timeoutMs} ms waiting for rank 1\\b`));
    assert.ok(ms >= 0 && ms <= timeoutMs + 1000, `${ms} ms`);
    assert.equal(await exited, 0); // the survivor closed and exited: no hang
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
});

test('Redis unreachable: join fails fast with a clear error', async () => {
  const t0 = Date.now();
  const e = await RedisCollective.join({ redisUrl: 'redis://:secret@127.0.0.1:6390', runId: 'r', rank: 0, worldSize: 2 }).catch(
    (err: Error) => err,
  );
  assert.ok(e instanceof RedisUnreachableError);
  assert.match(e.message, /^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:6390 is unreachable: connect ECONNREFUSED 127\.0\.0\.1:6390$/);
  assert.ok(Date.now() - t0 < 1000);
});

test('Redis connection killed mid all-reduce: the operation rejects at once, and so does the next one', async () => {
  const keyPrefix = prefix('clientkill');
  const gang = await joinGang(2, { keyPrefix, runId: 'ck', timeoutMs: 10_000 });
  const pending = gang[0].allReduceMean(new Float32Array(5000));
  await sleep(200);
  const t0 = Date.now();
  await killClient('cim:ck:0:reader');
  const e = await pending.catch((err: Error) => err);
  assert.ok(e instanceof RedisUnreachableError, String(e));
  assert.equal(e.message, 'Redis at redis://127.0.0.1:6379 is unreachable during all-reduce 1: the connection was closed');
  assert.ok(Date.now() - t0 < 500);
  await assert.rejects(gang[0].allReduceMean(new Float32Array(5000)), /out of step.*Redis at redis:\/\/127\.0\.0\.1:6379 is unreachable/);
  // the writer of an idle rank: its next operation fails fast
  await killClient('cim:ck:1:writer');
  await sleep(50);
  const t1 = Date.now();
  await assert.rejects(gang[1].barrier(), (err: Error) => err instanceof RedisUnreachableError && /during barrier 1/.test(err.message));
  assert.ok(Date.now() - t1 < 500);
  await Promise.all(gang.map((c) => c.close()));
});

const haveRedisServer = spawnSync('redis-server', ['--version']).status === 0;
test(
  'Redis server goes away mid all-reduce: rejects fast, no hang, no reconnect loop',
  { skip: !haveRedisServer && 'no redis-server binary' },
  async () => {
    const port = 6391 + (process.pid % 100);
    const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], {
      stdio: 'ignore',
    });
    try {
      const redisUrl = `redis://127.0.0.1:${port}`;
      let gang: RedisCollective[] | undefined;
      for (let i = 0; i < 50 && !gang; i++) {
        gang = await joinGang(2, { keyPrefix: 'cimtest', redisUrl, timeoutMs: 10_000 }).catch(async () => {
          await sleep(50);
          return undefined;
        });
      }
      assert.ok(gang, 'the private redis-server did not start');
      await Promise.all(gang.map((c, r) => c.allReduceSum(new Float32Array(100).fill(r))));
      const pending = gang[0].allReduceMean(new Float32Array(1000));
      await sleep(100);
      const t0 = Date.now();
      server.kill('SIGKILL');
      const e = await pending.catch((err: Error) => err);
      assert.ok(e instanceof RedisUnreachableError, String(e));
      assert.match(e.message, new RegExp(`^Redis at ${redisUrl.replace(/\//g, '\\/')} is unreachable during all-reduce 2: `));
      assert.ok(Date.now() - t0 < 1000);
      await assert.rejects(gang[1].barrier(), RedisUnreachableError);
      await sleep(300); // no reconnect attempts may surface as errors meanwhile
      await Promise.all(gang.map((c) => c.close()));
    } finally {
      server.kill('SIGKILL');
    }
  },
);

test(
  'Redis server hangs (SIGSTOP): join and operations fail within their timeouts',
  { skip: !haveRedisServer && 'no redis-server binary' },
  async () => {
    const port = 6491 + (process.pid % 100);
    const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], {
      stdio: 'ignore',
    });
    try {
      const redisUrl = `redis://127.0.0.1:${port}`;
      let gang: RedisCollective[] | undefined;
      for (let i = 0; i < 50 && !gang; i++) {
        gang = await joinGang(2, { keyPrefix: 'cimtest', redisUrl, timeoutMs: 1000 }).catch(async () => {
          await sleep(50);
          return undefined;
        });
      }
      assert.ok(gang, 'the private redis-server did not start');
      server.kill('SIGSTOP');
      let t0 = Date.now();
      await assert.rejects(
        gang[0].allReduceMean(new Float32Array(10)),
        /^RedisUnreachableError: Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable during all-reduce 1: Command timed out$/,
      );
      assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
      t0 = Date.now();
      await assert.rejects(
        RedisCollective.join({ redisUrl, runId: 'late', rank: 0, worldSize: 1, timeoutMs: 1000 }),
        /is unreachable: no answer within 1000 ms/,
      );
      assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
      await Promise.all(gang.map((c) => c.close()));
    } finally {
      server.kill('SIGCONT');
      server.kill('SIGKILL');
    }
  },
);

test('close() twice is safe; operations after close, or in flight during it, reject', async () => {
  const keyPrefix = prefix('close');
  const gang = await joinGang(2, { keyPrefix, timeoutMs: 5000 });
  const pending = gang[0].barrier();
  await sleep(50);
  await Promise.all([gang[0].close(), gang[0].close()]);
  await gang[0].close();
  await assert.rejects(pending, /RedisCollective\(run run, rank 0 of 2\) was closed during barrier 1/);
  await assert.rejects(
    gang[0].allReduceMean(new Float32Array(3)),
    /RedisCollective\(run run, rank 0 of 2\) is closed: cannot start all-reduce/,
  );
  await gang[1].close();
  await gang[1].close();
  await assert.rejects(gang[1].broadcast(new Uint8Array(1)), /is closed/);
});

test('no unhandled rejection in any of the above', async () => {
  await sleep(100);
  assert.deepEqual(unhandled, []);
});
