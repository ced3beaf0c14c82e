import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { categoryOfExit } from './rank-protocol.ts';
import { classifyRankExit, isOutOfMemory } from './out-of-memory.ts';
import { rankProcessEnv } from './rank-process-env.ts';
import { readServiceEnv } from './service-env.ts';

/** a real child process, its exit and the tail of its stderr */
function run(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-8000)));
    if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test("a rank whose V8 heap runs out is the run's own error (out of memory), not infrastructure", async () => {
  const oom = await run(['--max-old-space-size=24', '-e', 'const a = []; for (;;) a.push(new Array(1e5).fill(Math.random()))']);
  assert.notEqual(oom.code, 0);
  assert.equal(categoryOfExit(oom.code, oom.signal), 'infra', 'the exit alone looks like a crash');
  const c = classifyRankExit(categoryOfExit(oom.code, oom.signal), oom.stderr);
  assert.equal(c.category, 'user');
  assert.match(c.oomReason ?? '', /^out of memory: the run's config needs more memory than this worker has .*heap/);

  const killed = await run(['-e', 'setInterval(() => {}, 1000)'], 200);
  assert.equal(killed.signal, 'SIGKILL');
  assert.deepEqual(classifyRankExit(categoryOfExit(killed.code, killed.signal), killed.stderr), { category: 'infra' });
});

test('an allocation failure thrown inside a rank is recognised', () => {
  let thrown: unknown;
  try {
    new ArrayBuffer(2 ** 52);
  } catch (e) {
    thrown = e;
  }
  assert.ok(isOutOfMemory(thrown), String(thrown));
  assert.ok(isOutOfMemory(new Error('OOM when allocating tensor with shape[65536,4096]')));
  assert.equal(isOutOfMemory(new Error('ECONNRESET')), false);
});

test('rank processes get an explicit environment: no admin token, no stray secrets', () => {
  const parent = {
    PATH: '/usr/bin',
    HOME: '/home/w',
    CIM_ADMIN_TOKEN: 'admin-secret-0123456789abcdef',
    AWS_SECRET_ACCESS_KEY: 'pod-secret',
    GITHUB_TOKEN: 'x',
    DATABASE_URL: 'postgresql://u@db:5432/cim',
    S3_BUCKET: 'b',
    REDIS_URL: 'redis://r:6379',
  };
  const env = rankProcessEnv(parent, readServiceEnv(parent, 'worker'), { EXTRA: '1' });
  assert.equal(env.PATH, '/usr/bin');
  assert.equal(env.DATABASE_URL, 'postgresql://u@db:5432/cim');
  assert.equal(env.EXTRA, '1');
  for (const k of ['CIM_ADMIN_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'GITHUB_TOKEN']) assert.equal(env[k], undefined, k);
});
