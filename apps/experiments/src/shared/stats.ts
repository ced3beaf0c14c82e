/** Mean ± std over seeds, and whether a difference between two arms is a clear margin. */

export interface Cell {
  mean: number;
  std: number;
  n: number;
  values: number[];
}

/** mean and sample standard deviation (n − 1; 0 for one value) */
export function cell(values: number[]): Cell {
  const n = values.length;
  const mean = values.reduce((a, v) => a + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n, values };
}

export const fmtCell = (c: Cell) => `${c.mean.toFixed(1)} ± ${c.std.toFixed(1)}`;

/** Is a − b a clear margin: at least 1 point and twice its standard error (when there are seeds to tell)? */
export function verdict(a: Cell, b: Cell): { diff: number; se: number; clear: boolean; better: boolean } {
  const diff = a.mean - b.mean;
  const se = Math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n);
  return { diff, se, better: diff > 0, clear: diff >= 1 && (a.n < 2 || diff > 2 * se) };
}

export const fmtHours = (sec: number) => (sec >= 3600 ? `${(sec / 3600).toFixed(2)} h` : `${(sec / 60).toFixed(0)} min`);
