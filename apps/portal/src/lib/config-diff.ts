/**
 * Flattens nested configs to dotted keys and lists the keys whose values differ between runs
 * (for Compare): rows keep key order, a key missing in a run shows as undefined.
 */
export function flatten(o: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out[prefix] = o;
  }
  return out;
}

export interface DiffRow {
  key: string;
  values: unknown[];
  differs: boolean;
}

export function diffConfigs(configs: readonly unknown[]): DiffRow[] {
  const flat = configs.map((c) => flatten(c));
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const f of flat) {
    for (const k of Object.keys(f)) {
      if (seen.has(k)) continue;
      seen.add(k);
      keys.push(k);
    }
  }
  return keys.map((key) => {
    const values = flat.map((f) => f[key]);
    const first = JSON.stringify(values[0]);
    return { key, values, differs: values.some((v) => JSON.stringify(v) !== first) };
  });
}

export function formatValue(v: unknown): string {
  if (v === undefined) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
