// What our processes export: metric (series) names and label names, from the catalogue and from a
// real exposition of prom-client's default metrics. Dashboards and alerts may use only these.
import { allMetricSpecs, createRegistry, DEFAULT_LABEL_NAMES, exposedNames } from '../index.ts';

/** labels Prometheus itself adds: target labels and histogram buckets */
export const PROMETHEUS_LABELS = ['le', 'job', 'instance'] as const;

export async function exportedNames(): Promise<{ metrics: Set<string>; labels: Set<string> }> {
  const metrics = new Set(allMetricSpecs.flatMap(exposedNames));
  const labels = new Set<string>([...allMetricSpecs.flatMap((s) => s.labelNames), ...DEFAULT_LABEL_NAMES, ...PROMETHEUS_LABELS]);
  const defaults = await createRegistry({ service: 'worker', backend: 'cpu' }).metrics();
  for (const line of defaults.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!m) continue;
    metrics.add(m[1]);
    for (const lm of (m[2] ?? '').matchAll(/(\w+)="/g)) labels.add(lm[1]);
  }
  return { metrics, labels };
}
