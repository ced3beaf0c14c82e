/**
 * A sweep's decisions as a pure function of its trials' reported rung metrics.
 *
 * ASHA, deterministic: at rung k, n_k trials will report (n_0 = every planned trial, n_{k+1} = q_k)
 * and the best q_k = max(1, floor(n_k / η)) of them go on. A trial that has reported at rung k is
 *   - promoted as soon as it is certain to be in the top q_k whatever the missing reports say:
 *     (reported trials better than it) + (trials still to report) < q_k;
 *   - stopped as soon as it is certain not to be: (reported trials better than it) ≥ q_k;
 *   - else it waits (paused).
 * "Better" is a total order: the metric by its goal (a missing or non-finite value is worst),
 * ties broken by the lower trial index. The trials promoted at every rung are therefore exactly
 * synchronous successive halving's top q_k, whatever order the reports arrive in — the same seed
 * gives the same trials and the same decisions — while a clear winner or loser is acted on before
 * the whole rung has reported. A failed or cancelled trial counts as a report with the worst value
 * at the rung it was running to. Grid and random: one rung, the whole run; a report completes the trial.
 */
import type { TrialState } from '@cim-forge/config';
import { stopAtStepFor, type ResolvedSweep, type TrialParams } from './resolve.ts';

export interface TrialReport {
  index: number;
  state: TrialState;
  /** the rung the trial runs to (running, promoted), has reached (paused, completed) or ended at (stopped, failed, cancelled) */
  rung: number;
  /** the metric at each rung it reached, by rung (null or NaN: not recorded) */
  rungMetrics: (number | null)[];
}

export type SweepDecision =
  /** launch a trial to `rung`: a pending one from step 0, a promoted one (`resume`) from its own checkpoint */
  | { type: 'start'; index: number; rung: number; stopAtStep: number | null; resume: boolean }
  /** a paused trial goes on to `rung` (it is launched by a later `start`) */
  | { type: 'promote'; index: number; rung: number; stopAtStep: number | null }
  | { type: 'stop'; index: number; rung: number; reason: string }
  | { type: 'complete'; index: number; rung: number };

type Plan = Pick<ResolvedSweep, 'algorithm' | 'metric' | 'rungs' | 'totalSteps' | 'trials' | 'maxConcurrent'>;

const TERMINAL: ReadonlySet<TrialState> = new Set(['stopped', 'completed', 'failed', 'cancelled']);
const LOST: ReadonlySet<TrialState> = new Set(['failed', 'cancelled']);

/** the number of rungs (grid and random: 1) */
export function rungCount(plan: Pick<ResolvedSweep, 'rungs'>): number {
  return Math.max(1, plan.rungs.length);
}

/** how many trials reach each rung, and how many of them go on (the last rung: all of them complete) */
export function rungSlots(plan: Pick<ResolvedSweep, 'algorithm' | 'rungs' | 'trials'>): { reach: number[]; promote: number[] } {
  const eta = plan.algorithm.name === 'asha' ? plan.algorithm.eta : Infinity;
  const reach = [plan.trials.length];
  const promote: number[] = [];
  for (let k = 0; k < rungCount(plan); k++) {
    const q = k === rungCount(plan) - 1 ? reach[k] : Math.min(reach[k], Math.max(1, Math.floor(reach[k] / eta)));
    promote.push(q);
    if (k < rungCount(plan) - 1) reach.push(q);
  }
  return { reach, promote };
}

function valueAt(t: TrialReport, k: number): number | null {
  const v = t.rungMetrics[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** negative when a is better than b at rung k (missing values worst, then the lower index) */
function compareAt(goal: 'max' | 'min', k: number) {
  return (a: TrialReport, b: TrialReport) => {
    const va = valueAt(a, k);
    const vb = valueAt(b, k);
    if (va !== null && vb !== null && va !== vb) return goal === 'max' ? vb - va : va - vb;
    if ((va === null) !== (vb === null)) return va === null ? 1 : -1;
    return a.index - b.index;
  };
}

/** has `t` reported at rung k (a lost trial counts, with the worst value, at the rung it ran to) */
function reportedAt(t: TrialReport, k: number): boolean {
  return valueAt(t, k) !== null || t.rungMetrics.length > k || (LOST.has(t.state) && t.rung >= k) || t.rung > k;
}

function fmt(v: number | null): string {
  return v === null ? 'none' : Number(v.toPrecision(6)).toString();
}

/**
 * The decisions to take now, in order: transitions (stop, promote, complete) first, then the
 * launches that fit `maxConcurrent` (promoted trials first, highest rung then lowest index; then
 * pending ones by index). Trials missing from `trials` are pending. Apply them all, then call again
 * after the next report; an empty list with trials running means: wait.
 */
export function decide(plan: Plan, trials: readonly TrialReport[]): SweepDecision[] {
  const byIndex = new Map<number, TrialReport>();
  for (const p of plan.trials) byIndex.set(p.index, { index: p.index, state: 'pending', rung: 0, rungMetrics: [] });
  for (const t of trials) byIndex.set(t.index, { ...t, rungMetrics: [...t.rungMetrics] });
  const all = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const out: SweepDecision[] = [];
  const last = rungCount(plan) - 1;
  const { reach, promote } = rungSlots(plan);
  const goal = plan.metric.goal;

  for (let k = 0; k <= last; k++) {
    const paused = all.filter((t) => t.state === 'paused' && t.rung === k);
    if (paused.length === 0) continue;
    if (k === last) {
      for (const t of paused) {
        out.push({ type: 'complete', index: t.index, rung: k });
        t.state = 'completed';
      }
      continue;
    }
    const reported = all.filter((t) => reportedAt(t, k));
    const pending = reach[k] - reported.length;
    const q = promote[k];
    const cmp = compareAt(goal, k);
    for (const t of paused) {
      const better = reported.filter((u) => u.index !== t.index && cmp(u, t) < 0).length;
      if (better + Math.max(0, pending) < q) {
        const stopAtStep = stopAtStepFor(plan, k + 1);
        out.push({ type: 'promote', index: t.index, rung: k + 1, stopAtStep });
        t.state = 'promoted';
        t.rung = k + 1;
      } else if (better >= q) {
        // the reason names only what is true whatever order the reports came in
        const reason = `rung ${k} (step ${plan.rungs[k]}): ${plan.metric.name} ${fmt(valueAt(t, k))} is not in the top ${q} of ${reach[k]}`;
        out.push({ type: 'stop', index: t.index, rung: k, reason });
        t.state = 'stopped';
      }
    }
  }

  let free = plan.maxConcurrent - all.filter((t) => t.state === 'running').length;
  const queue = [
    ...all.filter((t) => t.state === 'promoted').sort((a, b) => b.rung - a.rung || a.index - b.index),
    ...all.filter((t) => t.state === 'pending'),
  ];
  for (const t of queue) {
    if (free <= 0) break;
    const resume = t.state === 'promoted';
    const rung = resume ? t.rung : 0;
    out.push({ type: 'start', index: t.index, rung, stopAtStep: stopAtStepFor(plan, rung), resume });
    t.state = 'running';
    t.rung = rung;
    free--;
  }
  return out;
}

/** A trial's report after applying `d` (the bookkeeping every driver does the same way). */
export function applyDecision(t: TrialReport, d: SweepDecision): TrialReport {
  switch (d.type) {
    case 'start':
      return { ...t, state: 'running', rung: d.rung };
    case 'promote':
      return { ...t, state: 'promoted', rung: d.rung };
    case 'stop':
      return { ...t, state: 'stopped', rung: d.rung };
    case 'complete':
      return { ...t, state: 'completed', rung: d.rung };
  }
}

/** every planned trial has ended (stopped, completed, failed or cancelled) */
export function sweepFinished(plan: Pick<ResolvedSweep, 'trials'>, trials: readonly TrialReport[]): boolean {
  const ended = new Set(trials.filter((t) => TERMINAL.has(t.state)).map((t) => t.index));
  return plan.trials.every((p) => ended.has(p.index));
}

export interface BestTrial {
  index: number;
  params: TrialParams;
  /** the highest rung any trial reported at; the metric is the trial's there */
  rung: number;
  metric: number;
}

/** The best trial: at the highest rung with a reported value, the best value (ties: lower index); null before any report. */
export function best(plan: Pick<ResolvedSweep, 'metric' | 'trials'>, trials: readonly TrialReport[]): BestTrial | null {
  let top = -1;
  for (const t of trials) for (let k = t.rungMetrics.length - 1; k > top; k--) if (valueAt(t, k) !== null) top = k;
  if (top < 0) return null;
  const cmp = compareAt(plan.metric.goal, top);
  const winner = trials.filter((t) => valueAt(t, top) !== null).sort(cmp)[0];
  const params = plan.trials.find((p) => p.index === winner.index)?.params ?? {};
  return { index: winner.index, params, rung: top, metric: valueAt(winner, top)! };
}

/** The value of metric `name` at `step`: the last row at or before it that holds a finite number; null when none. */
export function metricAt(rows: Iterable<Record<string, unknown>>, name: string, step: number): number | null {
  let v: number | null = null;
  let at = -Infinity;
  for (const r of rows) {
    const s = r.step;
    const x = r[name];
    if (typeof s === 'number' && s <= step && s >= at && typeof x === 'number' && Number.isFinite(x)) {
      v = x;
      at = s;
    }
  }
  return v;
}
