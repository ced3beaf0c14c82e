/**
 * Checkpoint retention: keep the newest `keepLatest` and the best `keepBest` of a store, remove
 * the rest. "Best" reads each checkpoint's state.json `metrics[metric]` (a checkpoint whose state
 * cannot be read is never best). The store decides what removal means: the service's store never
 * deletes a checkpoint that a fine-tune has pinned.
 */
import type { CheckpointStore } from './checkpoint-store.ts';

export interface RetentionPolicy {
  keepLatest: number;
  keepBest: number;
  /** the state.json metric that ranks checkpoints, e.g. "loss" or "top1" */
  metric: string;
  better: 'lower' | 'higher';
}

/** Ids removed, oldest first. `scores` caches metric values across calls (id → value). */
export async function applyRetention(store: CheckpointStore, p: RetentionPolicy, scores = new Map<string, number>()): Promise<string[]> {
  const all = await store.list();
  if (all.length <= p.keepLatest) return [];
  const keep = new Set(all.slice(Math.max(0, all.length - p.keepLatest)).map((m) => m.id));
  if (p.keepBest > 0) {
    const worst = p.better === 'lower' ? Infinity : -Infinity;
    for (const m of all) {
      if (scores.has(m.id)) continue;
      let v = worst;
      try {
        const state = JSON.parse(new TextDecoder().decode(await store.read(m.id, 'state.json'))) as { metrics?: Record<string, unknown> };
        const x = state.metrics?.[p.metric];
        if (typeof x === 'number' && Number.isFinite(x)) v = x;
      } catch {
        // unreadable or corrupt: never the best
      }
      scores.set(m.id, v);
    }
    const ranked = all
      .filter((m) => Number.isFinite(scores.get(m.id)!))
      .sort(
        (a, b) => (p.better === 'lower' ? scores.get(a.id)! - scores.get(b.id)! : scores.get(b.id)! - scores.get(a.id)!) || b.step - a.step,
      );
    for (const m of ranked.slice(0, p.keepBest)) keep.add(m.id);
  }
  const removed: string[] = [];
  for (const m of all) {
    if (keep.has(m.id)) continue;
    await store.remove(m.id);
    scores.delete(m.id);
    removed.push(m.id);
  }
  return removed;
}
