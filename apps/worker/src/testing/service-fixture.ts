/**
 * Real services for worker/controller tests: a throwaway PostgreSQL database with our
 * migrations, a random BullMQ prefix on the local Redis, a team. `close()` tears it all down.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createDb, migrate, type Db, type Run } from '@cim-forge/db';
import { ranksQueue, runsQueue, enqueueRun, type RankJobData, type RunJobData } from '@cim-forge/queue';
import type { Queue } from 'bullmq';
import { createTempDatabase, type TempDatabase } from '@cim-forge/db/testing';
import { readServiceEnv, type ServiceEnv } from '../service-env.ts';

export interface ServiceFixture {
  env: ServiceEnv;
  db: Db;
  redis: Redis;
  runs: Queue<RunJobData>;
  ranks: Queue<RankJobData>;
  teamId: string;
  /** a QUEUED run, enqueued for the controller */
  submit(o: {
    worldSize: number;
    config?: Record<string, unknown>;
    kind?: 'pretrain' | 'finetune' | 'eval';
    priority?: number;
    maxRestarts?: number;
    sourceCheckpointId?: string;
  }): Promise<Run>;
  waitFor(runId: string, pred: (r: Run) => boolean, timeoutMs: number): Promise<Run>;
  close(): Promise<void>;
}

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function startServiceFixture(overrides: Record<string, string> = {}): Promise<ServiceFixture> {
  const tmp: TempDatabase = await createTempDatabase();
  await migrate(tmp.url);
  const prefix = `cimtest-${randomBytes(4).toString('hex')}`;
  const env = readServiceEnv(
    { DATABASE_URL: tmp.url, REDIS_URL: redisUrl, CIM_QUEUE_PREFIX: prefix, S3_BUCKET: 'cim-test', ...overrides },
    'worker',
  );
  const db = createDb(tmp.url, { maxConnections: 4 });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const runs = runsQueue({ redisUrl, prefix });
  const ranks = ranksQueue({ redisUrl, prefix });
  const team = await db.team.create({ data: { name: `team-${prefix}` } });
  return {
    env,
    db,
    redis,
    runs,
    ranks,
    teamId: team.id,
    async submit(o) {
      const run = await db.run.create({
        data: {
          teamId: team.id,
          kind: o.kind ?? 'pretrain',
          config: (o.config ?? {}) as object,
          worldSize: o.worldSize,
          priority: o.priority ?? 0,
          maxRestarts: o.maxRestarts ?? 3,
          queuedAt: new Date(),
          sourceCheckpointId: o.sourceCheckpointId,
        },
      });
      await enqueueRun(runs, run.id, run.priority);
      return run;
    },
    async waitFor(runId, pred, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await db.run.findUniqueOrThrow({ where: { id: runId } });
        if (pred(r)) return r;
        if (Date.now() > deadline) throw new Error(`run ${runId} still ${r.status} after ${timeoutMs} ms (error: ${r.error})`);
        await new Promise((res) => setTimeout(res, 200));
      }
    },
    async close() {
      await runs.obliterate({ force: true }).catch(() => {});
      await ranks.obliterate({ force: true }).catch(() => {});
      await runs.close();
      await ranks.close();
      redis.disconnect();
      await db.$disconnect();
      await tmp.drop();
    },
  };
}
