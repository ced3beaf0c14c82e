/**
 * Default listening ports, shared with docker/compose.yaml, the Helm chart's values.yaml and
 * deploy/prometheus/prometheus.yml (a test checks they agree).
 */
export const DEFAULT_PORTS = {
  /** apps/api: REST and /metrics (env PORT) */
  api: 8080,
  /** apps/worker worker-main: /metrics, /healthz, /readyz (env METRICS_PORT) */
  workerMetrics: 9464,
  /** apps/worker controller-main: /metrics, /healthz, /readyz (env METRICS_PORT) */
  controllerMetrics: 9465,
} as const;
