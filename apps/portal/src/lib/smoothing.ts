/**
 * Exponential moving average with debiasing (TensorBoard's smoothing): weight w in [0, 1), 0 =
 * raw. Debiased so the first points are not pulled towards 0; non-finite values pass through
 * and do not poison the average.
 */
export function smooth(values: readonly (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return [...values];
  const w = Math.min(weight, 0.999);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    n++;
    return last / (1 - Math.pow(w, n));
  });
}
