/**
 * A worker process (one per GPU): `node --import tsx apps/worker/src/worker-main.ts`.
 * Settings from the environment (service-env.ts). SIGTERM: the running rank checkpoints at its
 * next step boundary, then the process exits 0 (the controller requeues the run).
 */
import { createDb } from '@cim-forge/db';
import { RankWorker } from './rank-worker.ts';
import { readServiceEnv } from './service-env.ts';

const env = readServiceEnv(process.env, 'worker');
const db = createDb(env.databaseUrl, { maxConnections: 4 });
const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level: 'info', time: Date.now(), service: 'worker', worker: env.workerId, msg, ...fields }));
const worker = new RankWorker({ env, db, log });
await worker.start();
log(`worker ${env.workerId} taking rank jobs (queue prefix ${env.queuePrefix})`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: letting the running rank checkpoint, then exiting`);
  await worker.close();
  await db.$disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
