/**
 * The controller process: `node --import tsx apps/worker/src/controller-main.ts`. Run one or
 * more (they share the run queue; a dead one's runs are picked up by another). Each also drives
 * the running sweeps (sweep-driver.ts; one step of a sweep at a time, whichever controller locks
 * it). /metrics on METRICS_PORT: runs by status and team, queue depth, queue wait, restarts,
 * finished runs, active sweeps, live trials, early stops.
 */
import { Redis } from 'ioredis';
import { createDb } from '@cim-forge/db';
import { ranksQueue, runsQueue } from '@cim-forge/queue';
import { controllerMetrics, createLogger, createRegistry, startMetricsServer } from '@cim-forge/telemetry';
import { AddressPolicy, WebhookDispatcher } from '@cim-forge/webhooks';
import { Controller } from './controller.ts';
import { SweepDriver } from './sweep-driver.ts';
import { readServiceEnv } from './service-env.ts';
import { processEnv } from '@cim-forge/settings';

const env = readServiceEnv(processEnv(), 'controller');
const logger = createLogger({ service: 'controller', level: env.logLevel });
const db = createDb(env.databaseUrl, { maxConnections: 4 });
const redis = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
const ranks = ranksQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix });
const runs = runsQueue({ redisUrl: env.redisUrl, prefix: env.queuePrefix });
const registry = createRegistry({ service: 'controller' });
const metrics = controllerMetrics(registry, {
  collectRuns: async () =>
    (await db.run.groupBy({ by: ['status', 'teamId'], _count: { _all: true } })).map((g) => ({
      status: g.status,
      team: g.teamId,
      count: g._count._all,
    })),
  collectQueues: async () => {
    const out: { queue: string; state: string; count: number }[] = [];
    for (const q of [runs, ranks]) {
      const counts = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
      for (const [state, count] of Object.entries(counts)) out.push({ queue: q.name, state, count });
    }
    return out;
  },
  collectSweeps: async () => {
    const active = await db.sweep.groupBy({ by: ['teamId'], where: { status: 'RUNNING' }, _count: { _all: true } });
    const live = await db.run.groupBy({
      by: ['teamId'],
      where: { sweepId: { not: null }, status: { in: ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING'] } },
      _count: { _all: true },
    });
    return {
      active: active.map((g) => ({ team: g.teamId, count: g._count._all })),
      liveTrials: live.map((g) => ({ team: g.teamId, count: g._count._all })),
    };
  },
});
const controller = new Controller({
  env,
  db,
  redis,
  ranksQueue: ranks,
  log: (msg, fields) => logger.info(fields ?? {}, msg),
  onStarted: (run, seconds) => metrics.queueWait.observe({ kind: run.kind }, seconds),
  onRestart: (run, cause) => metrics.restart({ run_id: run.id, team: run.teamId, cause }),
  onRunFinished: (run) => metrics.finished({ run_id: run.id, team: run.teamId, kind: run.kind, status: run.status }),
});
await controller.start();
const sweeps = new SweepDriver({
  db,
  runsQueue: runs,
  log: (msg, fields) => logger.info(fields ?? {}, msg),
  onEarlyStop: (sweep) => metrics.sweepEarlyStops.inc({ team: sweep.teamId }),
});
sweeps.start();
// webhook deliveries of run state changes: the trigger on runs writes them, this sends them
const webhooks = new WebhookDispatcher({
  db,
  redisUrl: env.redisUrl,
  prefix: env.queuePrefix,
  policy: new AddressPolicy(env.webhooks.allowedNetworks),
  attempts: env.webhooks.attempts,
  backoffMs: env.webhooks.backoffMs,
  timeoutMs: env.webhooks.timeoutMs,
  log: (msg, fields) => logger.info(fields ?? {}, msg),
});
await webhooks.start();
const server = await startMetricsServer({
  registry,
  port: env.metricsPort,
  host: env.metricsHost,
  token: env.metricsToken,
  ready: async () => (await redis.ping()) === 'PONG',
});
if (env.metricsToken === undefined)
  logger.warn('CIM_METRICS_TOKEN is not set: /metrics (run and team ids) answers anyone who reaches this port');
logger.info({ metricsPort: server.port, queuePrefix: env.queuePrefix }, 'controller supervising runs');

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info(`${signal}: closing`);
  await sweeps.close();
  await controller.close();
  await webhooks.close();
  await server.close();
  await Promise.all([ranks.close(), runs.close()]);
  redis.disconnect();
  await db.$disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
