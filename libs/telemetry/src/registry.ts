import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BACKEND_LABEL, COMPONENT_LABEL, type MetricSpec, type Service } from './catalogue.ts';

export interface RegistryOptions {
  service: Service;
  /** the tfjs backend the process loaded (workers): tensorflow | wasm | cpu */
  backend?: string;
  /** prom-client's process and Node.js metrics (default true) */
  defaultMetrics?: boolean;
}

/**
 * A fresh registry with prom-client's default process/Node metrics and two bounded default labels:
 * `component` (api | controller | worker) and, on workers, `backend`. The label is `component`,
 * not `service`, because the Prometheus Operator puts its own `service` label on every target a
 * ServiceMonitor scrapes and would rename ours to `exported_service`.
 */
export function createRegistry(opts: RegistryOptions): Registry {
  const registry = new Registry();
  const labels: Record<string, string> = { [COMPONENT_LABEL]: opts.service };
  if (opts.backend !== undefined) labels[BACKEND_LABEL] = opts.backend;
  registry.setDefaultLabels(labels);
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // gauges named *_total break the exposition rules (`promtool check metrics`: "non-counter
    // metrics should not have _total suffix"); each is the sum of its by-type twin, kept.
    for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(name);
  }
  return registry;
}

/** prom-client default metrics we drop; `nodejs_active_handles{type}` etc. stay */
export const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

type Labels<L extends readonly string[]> = L[number];

/** Registers a catalogue counter, or returns the one already registered under its name. */
export function counterOf<const L extends readonly string[]>(
  registry: Registry,
  s: MetricSpec & { type: 'counter'; labelNames: L },
): Counter<Labels<L>> {
  const existing = registry.getSingleMetric(s.name);
  if (existing) return expectKind(existing, Counter, s) as Counter<Labels<L>>;
  return new Counter({ name: s.name, help: s.help, labelNames: s.labelNames, registers: [registry] });
}

export function gaugeOf<const L extends readonly string[]>(
  registry: Registry,
  s: MetricSpec & { type: 'gauge'; labelNames: L },
  collect?: (this: Gauge<Labels<L>>) => void | Promise<void>,
): Gauge<Labels<L>> {
  const existing = registry.getSingleMetric(s.name);
  if (existing) return expectKind(existing, Gauge, s) as Gauge<Labels<L>>;
  return new Gauge({ name: s.name, help: s.help, labelNames: s.labelNames, registers: [registry], collect });
}

export function histogramOf<const L extends readonly string[]>(
  registry: Registry,
  s: MetricSpec & { type: 'histogram'; labelNames: L },
): Histogram<Labels<L>> {
  const existing = registry.getSingleMetric(s.name);
  if (existing) return expectKind(existing, Histogram, s) as Histogram<Labels<L>>;
  return new Histogram({
    name: s.name,
    help: s.help,
    labelNames: s.labelNames,
    buckets: [...(s.buckets ?? [])],
    registers: [registry],
  });
}

function expectKind(m: unknown, kind: abstract new (...a: never[]) => unknown, s: MetricSpec): unknown {
  if (!(m instanceof kind)) throw new Error(`metric ${s.name} is already registered as another type, not a ${s.type}`);
  return m;
}
