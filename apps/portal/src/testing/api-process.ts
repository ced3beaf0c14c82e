/**
 * The real API as a child process (the same entry point `npm run api` runs) on a temp
 * PostgreSQL database, a private BullMQ prefix on the shared Redis and an s3rver, for the
 * portal's component tests; `team()` makes a team and a token over HTTP. close() is idempotent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { migrate } from '@cim-forge/db';
import { createTempDatabase } from '@cim-forge/db/testing';
import { startS3TestServer } from '@cim-forge/storage/testing';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

export interface ApiProcess {
  url: string;
  adminToken: string;
  team(name?: string): Promise<string>;
  request<T>(token: string, method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function startApiProcess(): Promise<ApiProcess> {
  const db = await createTempDatabase();
  await migrate(db.url);
  const s3 = await startS3TestServer();
  const port = await freePort();
  const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
  const prefix = `cimtest-portal-${randomBytes(4).toString('hex')}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'apps/api/src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      CIM_QUEUE_PREFIX: prefix,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      PORT: String(port),
      HOST: '127.0.0.1',
      CIM_ADMIN_TOKEN: adminToken,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the API exited (${child.exitCode}) before it was ready`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the API was not ready within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const request = async <T>(token: string, method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json as T;
  };
  let closing: Promise<void> | undefined;
  return {
    url,
    adminToken,
    request,
    async team(name = `team-${randomBytes(3).toString('hex')}`) {
      const team = await request<{ id: string }>(adminToken, 'POST', '/v1/teams', { name });
      return (await request<{ token: string }>(adminToken, 'POST', '/v1/tokens', { teamId: team.id })).token;
    },
    close() {
      closing ??= (async () => {
        if (child.exitCode === null) {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await gone;
        }
        await s3.close();
        await db.drop();
        // the BullMQ keys the API made under this test's prefix
        const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      })();
      return closing;
    },
  };
}
