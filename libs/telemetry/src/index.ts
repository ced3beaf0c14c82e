/**
 * libs/telemetry: what CIM Forge tells its operators. The metric catalogue and its factories
 * (one per process kind), the registry every process starts with, the tiny /metrics + health
 * server for the worker and the controller, and the JSON logger.
 *
 *   api         const r = createRegistry({ service: 'api' }); const m = apiMetrics(r);
 *               Fastify serves r.metrics() at /metrics itself
 *   controller  controllerMetrics(r, { collectRuns, collectQueues }); startMetricsServer({ registry: r, port: 9465 })
 *   worker      const m = workerMetrics(r, { worker, backend }); m.rank({ run_id, rank, team }).step(…);
 *               m.forgetRun(run_id) when the rank job ends
 */
export * from './catalogue.ts';
export { createRegistry, LINT_FAILING_DEFAULTS, type RegistryOptions } from './registry.ts';
export * from './api-metrics.ts';
export * from './controller-metrics.ts';
export * from './worker-metrics.ts';
export * from './metrics-server.ts';
export * from './logger.ts';
export * from './ports.ts';
export * from './metrics-token.ts';
