/** Every /v1 route, behind the bearer-token hook (encapsulated: /healthz and /metrics stay open). */
import type { FastifyInstance } from 'fastify';
import { registerRateLimit, type RateLimitOptions } from '../plugins/rate-limit.ts';
import checkpointRoutes from './run-checkpoints.ts';
import eventRoutes from './run-events.ts';
import importRoutes from './imports.ts';
import metricRoutes from './run-metrics.ts';
import presetRoutes from './presets.ts';
import queueRoutes from './queue.ts';
import runRoutes from './runs.ts';
import sweepRoutes from './sweeps.ts';
import streamRoutes, { type StreamOptions } from './streams.ts';
import teamRoutes from './teams.ts';
import tokenRoutes from './tokens.ts';
import webhookRoutes from './webhooks.ts';
import figureRoutes from './run-figures.ts';

export default async function v1Routes(
  app: FastifyInstance,
  opts: { rateLimit: RateLimitOptions; ipRateLimit: RateLimitOptions; streams: StreamOptions },
) {
  await registerRateLimit(app, opts.rateLimit, opts.ipRateLimit, app.services.queuePrefix);
  app.addHook('onRequest', app.authenticate);
  await app.register(teamRoutes);
  await app.register(tokenRoutes);
  await app.register(runRoutes);
  await app.register(sweepRoutes);
  await app.register(metricRoutes);
  await app.register(eventRoutes);
  await app.register(checkpointRoutes);
  await app.register(importRoutes);
  await app.register(queueRoutes);
  await app.register(presetRoutes);
  await app.register(webhookRoutes);
  await app.register(figureRoutes);
  await app.register(streamRoutes, opts.streams);
}
