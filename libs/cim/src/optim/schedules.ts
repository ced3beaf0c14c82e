/**
 * The recipe's schedules, set every optimizer step (MAE's `adjust_learning_rate` and the official
 * CIM `iter_update`).
 */

/** Linear warmup for `warmupEpochs`, then half-cycle cosine from `peakLr` to `minLr`. `epoch` is fractional. */
export function learningRate(epoch: number, o: { peakLr: number; minLr: number; warmupEpochs: number; epochs: number }): number {
  if (epoch < o.warmupEpochs) return (o.peakLr * epoch) / o.warmupEpochs;
  const span = Math.max(o.epochs - o.warmupEpochs, 1e-12);
  const t = Math.min((epoch - o.warmupEpochs) / span, 1);
  return o.minLr + (o.peakLr - o.minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
}

/** Target-encoder momentum at step k of K: 1 − (1 − base)·(cos(πk/K) + 1)/2, from base to end. */
export function targetMomentum(k: number, K: number, base = 0.99, end = 1.0): number {
  return end - ((end - base) * (Math.cos((Math.PI * k) / Math.max(K, 1)) + 1)) / 2;
}

/** lr = base_lr × effective batch / 256 (the linear scaling rule the recipe uses). */
export function scaledLr(baseLr: number, effectiveBatch: number): number {
  return (baseLr * effectiveBatch) / 256;
}
