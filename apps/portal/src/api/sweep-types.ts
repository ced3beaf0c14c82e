/**
 * The sweep routes' JSON shapes (issue 22's REST contract: GET /v1/sweeps[/:id], POST /v1/sweeps,
 * POST /v1/sweeps/:id/cancel, GET /v1/sweeps/:id/stream). Written here by hand from the contract
 * until @cim-forge/client's generated types carry the sweep routes; then these become aliases of
 * those, as src/api/client.ts's run types are.
 */
import type { RunStatus, SubmitBody } from '@cim-forge/client';

export const SWEEP_STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
export const TRIAL_STATES = ['pending', 'running', 'paused', 'promoted', 'stopped', 'completed', 'failed', 'cancelled'] as const;
export type TrialState = (typeof TRIAL_STATES)[number];

export type ParamValue = number | string | boolean | null;
/** one config field's domain */
export type SearchDomain =
  | { choice: ParamValue[] }
  | { uniform: [number, number]; grid?: number }
  | { loguniform: [number, number]; grid?: number }
  | { int: [number, number] };
export type SearchSpace = Record<string, SearchDomain>;
export type SweepAlgorithm =
  | { name: 'grid' }
  | { name: 'random'; seed?: number }
  | { name: 'asha'; seed?: number; eta?: number; budgetUnit?: 'steps' | 'epochs'; gracePeriod?: number; maxBudget?: number };
export interface SweepMetric {
  name: string;
  goal: 'max' | 'min';
}

export interface SweepTrial {
  index: number;
  runId: string | null;
  params: Record<string, ParamValue>;
  status: TrialState;
  runStatus: RunStatus | null;
  /** the last rung it reached (0-based), null before the first */
  rung: number | null;
  /** the metric at each rung it reached */
  rungMetrics: (number | null)[];
  metric: number | null;
  stopReason: string | null;
}

export interface SweepBest {
  index: number;
  runId: string | null;
  params: Record<string, ParamValue>;
  metric: number;
}

export interface Sweep {
  id: string;
  name: string | null;
  status: SweepStatus;
  kind: string;
  base: SubmitBody;
  space: SearchSpace;
  algorithm: SweepAlgorithm;
  metric: SweepMetric;
  maxTrials: number;
  maxConcurrent: number;
  priority: number;
  /** step budgets of the rungs (ASHA); [] for grid and random */
  rungs: number[];
  trials: SweepTrial[];
  best: SweepBest | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** GET /v1/sweeps: the list's rows may leave the trials out */
export type SweepSummary = Omit<Sweep, 'trials'> & { trials?: SweepTrial[]; trialCount?: number };
export interface SweepList {
  sweeps?: SweepSummary[];
  items?: SweepSummary[];
  nextCursor?: string | null;
}

export interface SweepBody {
  name?: string;
  base: SubmitBody;
  space: SearchSpace;
  algorithm: SweepAlgorithm;
  metric: SweepMetric;
  maxTrials: number;
  maxConcurrent?: number;
  priority?: number;
  validateOnly?: boolean;
}

/** POST /v1/sweeps with validateOnly: the trial plan, not stored (fields beyond trials are shown as they come) */
export interface SweepPlan {
  valid?: true;
  trials?: { index: number; params: Record<string, ParamValue>; budget?: number | null }[];
  rungs?: number[];
  [k: string]: unknown;
}
