/**
 * Everything a test file needs, real and private to it: a temp Postgres database (migrated), a
 * random BullMQ prefix on the shared Redis, an s3rver, and the app built on them. `close()`
 * tears down in reverse order and is safe to call twice.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { Registry } from 'prom-client';
import { createDb, migrate, type Db } from '@cim-forge/db';
import { runsQueue, type RunJobData } from '@cim-forge/queue';
// the libs keep their test helpers out of index.ts; until they have aliases, import them by path
import { createTempDatabase, type TempDatabase } from '@cim-forge/db/testing';
import { startS3TestServer, type S3TestServer } from '@cim-forge/storage/testing';
import { buildApp, type ApiDeps } from '../app.ts';

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface ApiTestEnv {
  app: FastifyInstance;
  db: Db;
  redis: Redis;
  queue: Queue<RunJobData>;
  prefix: string;
  s3: S3TestServer;
  registry: Registry;
  adminToken: string;
  /** a new team and a token for it */
  team(name?: string): Promise<{ teamId: string; token: string; auth: { authorization: string } }>;
  close(): Promise<void>;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * @param extra deps to add or override (CORS origins, the webhook address policy, stream poll interval, portal directory, …)
 * @param wrapDb gives the API a wrapped client (a Prisma query extension that counts reads, same engine and pool); the test's `db` stays plain
 */
export async function startApiTestEnv(extra: Partial<ApiDeps> = {}, wrapDb?: (db: Db) => Db): Promise<ApiTestEnv> {
  const tempDb: TempDatabase = await createTempDatabase();
  await migrate(tempDb.url);
  const db = createDb(tempDb.url, { maxConnections: 4 });
  const prefix = `cimtest-api-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(redisUrl);
  const queue = runsQueue({ redisUrl, prefix });
  const s3 = await startS3TestServer();
  const registry = new Registry();
  const adminToken = `admin-${randomBytes(24).toString('base64url')}`;
  const app = await buildApp({
    db: wrapDb ? wrapDb(db) : db,
    redis,
    runsQueue: queue,
    queuePrefix: prefix,
    s3: { client: s3.client, bucket: s3.bucket },
    adminToken,
    registry,
    ...extra,
  });
  let n = 0;
  let closed = false;
  return {
    app,
    db,
    redis,
    queue,
    prefix,
    s3,
    registry,
    adminToken,
    async team(name = `team-${++n}-${randomBytes(3).toString('hex')}`) {
      const t = await app.inject({ method: 'POST', url: '/v1/teams', headers: bearer(adminToken), payload: { name } });
      if (t.statusCode !== 201) throw new Error(`team: ${t.statusCode} ${t.body}`);
      const teamId = t.json().id as string;
      const k = await app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(adminToken), payload: { teamId } });
      if (k.statusCode !== 201) throw new Error(`token: ${k.statusCode} ${k.body}`);
      const token = k.json().token as string;
      return { teamId, token, auth: bearer(token) };
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.services.figuresQueue.obliterate({ force: true }).catch(() => {});
      await app.close();
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
      await s3.close();
      await db.$disconnect();
      await tempDb.drop();
    },
  };
}
