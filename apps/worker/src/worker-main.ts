/**
 * A worker process (one per GPU): `node --import tsx apps/worker/src/worker-main.ts`.
 * Settings from the environment (service-env.ts); /metrics, /healthz and /readyz on
 * METRICS_PORT; JSON logs on stdout, every line of a rank's output tagged with run_id and rank.
 * SIGTERM: the running rank checkpoints at its next step boundary, then the process exits 0 (the
 * controller requeues the run without spending its restart budget).
 */
import { createDb } from '@cim-forge/db';
import { createLogger, createRegistry, startMetricsServer, workerMetrics } from '@cim-forge/telemetry';
import { RankWorker } from './rank-worker.ts';
import { FigureWorker } from './figures/figure-worker.ts';
import { workerBackendLabel } from './backend-label.ts';
import { readServiceEnv } from './service-env.ts';
import { processEnv } from '@cim-forge/settings';

const env = readServiceEnv(processEnv(), 'worker');
const logger = createLogger({ service: 'worker', level: env.logLevel, bindings: { worker: env.workerId } });
const db = createDb(env.databaseUrl, { maxConnections: 4 });
// CIM_BACKEND=webgpu: the adapter is probed here, so a worker that has none says why and exits
const backend = await workerBackendLabel(env).catch((e: Error) => {
  logger.error(e.message);
  process.exit(1);
});
const registry = createRegistry({ service: 'worker', backend });
const metrics = workerMetrics(registry, { worker: env.workerId, backend });
const worker = new RankWorker({ env, db, metrics, logger, backend, log: (msg, fields) => logger.info(fields ?? {}, msg) });
await worker.start();
// correlation-map figures (held-out at checkpoint time, uploads), drawn beside the rank in a child process
const figures = new FigureWorker({ env, db, log: (msg, fields) => logger.info(fields ?? {}, msg) });
await figures.start();
let ready = true;
const server = await startMetricsServer({
  registry,
  port: env.metricsPort,
  host: env.metricsHost,
  token: env.metricsToken,
  ready: async () => ready,
});
if (env.metricsToken === undefined)
  logger.warn('CIM_METRICS_TOKEN is not set: /metrics (run and team ids) answers anyone who reaches this port');
logger.info({ metricsPort: server.port, queuePrefix: env.queuePrefix }, `worker ${env.workerId} taking rank jobs`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  ready = false;
  logger.info(`${signal}: letting the running rank checkpoint, then exiting`);
  await worker.close();
  await figures.close();
  await server.close();
  await db.$disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
