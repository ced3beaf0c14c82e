/**
 * The controller process: `node --import tsx apps/worker/src/controller-main.ts`. Run one or
 * more (they share the run queue; a dead one's runs are picked up by another).
 */
import { Redis } from 'ioredis';
import { createDb } from '@cim-forge/db';
import { ranksQueue } from '@cim-forge/queue';
import { Controller } from './controller.ts';
import { readServiceEnv } from './service-env.ts';

const env = readServiceEnv(process.env, 'controller');
const db = createDb(env.databaseUrl, { maxConnections: 4 });
const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
const queue = ranksQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix });
const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level: 'info', time: Date.now(), service: 'controller', msg, ...fields }));
const controller = new Controller({ env, db, redis, ranksQueue: queue, log });
await controller.start();
log(`controller supervising runs (queue prefix ${env.queuePrefix})`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: closing`);
  await controller.close();
  await queue.close();
  redis.disconnect();
  await db.$disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
