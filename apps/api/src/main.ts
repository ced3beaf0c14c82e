/**
 * The API process: settings from the environment (config.ts), the services, the app, and a clean
 * shutdown on SIGTERM/SIGINT (stop accepting, finish in-flight requests, then close the queue,
 * Redis and Postgres, in that order). Logs are JSON lines (pino).
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createDb } from '@cim-forge/db';
import { runsQueue } from '@cim-forge/queue';
import { createS3Client } from '@cim-forge/storage';
import { AddressPolicy } from '@cim-forge/webhooks';
import { createRegistry } from '@cim-forge/telemetry';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = createDb(config.databaseUrl);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  const queue = runsQueue({ redisUrl: config.redisUrl, prefix: config.queuePrefix });
  const s3Client = createS3Client(config.s3);
  const app = await buildApp({
    db,
    redis,
    runsQueue: queue,
    queuePrefix: config.queuePrefix,
    s3: { client: s3Client, bucket: config.s3Bucket },
    adminToken: config.adminToken,
    workerMemoryBytes: config.workerMemoryBytes,
    metricsToken: config.metricsToken,
    rateLimit: { max: config.rateLimitPerMinute, windowMs: 60_000 },
    ipRateLimit: { max: config.rateLimitIpPerMinute, windowMs: 60_000 },
    trustProxy: config.trustProxy,
    streamLimits: config.streamLimits,
    defaultQuotas: config.defaultQuotas,
    importLimits: config.importLimits,
    figureUploadsPerRun: config.figureUploadsPerRun,
    registry: createRegistry({ service: 'api' }),
    corsOrigins: config.corsOrigins,
    webhookPolicy: new AddressPolicy(config.webhookAllowedNetworks),
    portalDir: fileURLToPath(new URL('../../portal/dist', import.meta.url)),
    // the same line shape as the worker's and the controller's (libs/telemetry createLogger)
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization'],
      base: { service: 'api' },
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: { level: (label: string) => ({ level: label }) },
    },
  });
  if (config.metricsToken === undefined)
    app.log.warn(
      'CIM_METRICS_TOKEN is not set: /metrics and /docs answer anyone who reaches this port (set it anywhere but local development)',
    );
  if (config.adminToken === undefined)
    app.log.warn('CIM_ADMIN_TOKEN is not set: only admin tokens stored in the database can create teams and tokens');

  let closing: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    closing ??= (async () => {
      app.log.info({ signal }, 'shutting down');
      try {
        await app.close();
        await queue.close();
        await redis.quit();
        await db.$disconnect();
        s3Client.destroy();
        app.log.info('stopped');
        process.exitCode = 0;
      } catch (err) {
        app.log.error({ err }, 'shutdown failed');
        process.exitCode = 1;
      }
    })();
    return closing;
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
}

main().catch((err: unknown) => {
  // before the logger exists (bad settings), a plain line on stderr
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
