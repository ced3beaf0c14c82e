/** A sweeps row with its trials (and their runs' statuses) as the API's sweep resource; visibility by team. */
import type { Db, Prisma } from '@cim-forge/db';
import type { TrialState } from '@cim-forge/config';
import { best, type TrialReport } from '@cim-forge/sweep';
import { notFound } from '../http-error.ts';
import type { Principal } from '../principal.ts';
import type { Sweep, SweepSummary, SweepTrial } from '../schemas/sweep.ts';
import type { SweepSpec } from './submit-sweep.ts';

export const sweepInclude = {
  trials: { orderBy: { index: 'asc' } },
  runs: { select: { id: true, status: true, trialIndex: true } },
} as const satisfies Prisma.SweepInclude;

export type SweepRow = Prisma.SweepGetPayload<{ include: typeof sweepInclude }>;

export function visibleSweepsWhere(p: Principal): Prisma.SweepWhereInput {
  return p.admin ? {} : { teamId: p.teamId ?? '00000000-0000-0000-0000-000000000000' };
}

/** another team's sweep is "not found", never "forbidden" */
export async function findVisibleSweep(db: Db, p: Principal, id: string): Promise<SweepRow> {
  const sweep = await db.sweep.findFirst({ where: { id, ...visibleSweepsWhere(p) }, include: sweepInclude });
  if (!sweep) throw notFound(`sweep ${id} not found`);
  return sweep;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function lastValue(xs: (number | null)[]): number | null {
  for (let i = xs.length - 1; i >= 0; i--) if (typeof xs[i] === 'number' && Number.isFinite(xs[i])) return xs[i];
  return null;
}

export function trialReports(row: Pick<SweepRow, 'trials'>): TrialReport[] {
  return row.trials.map((t) => ({
    index: t.index,
    state: t.state as TrialState,
    rung: Math.max(0, t.rung),
    rungMetrics: t.rungMetrics as (number | null)[],
  }));
}

export function toSweepSummary(s: Omit<SweepRow, 'trials' | 'runs'>): SweepSummary {
  const spec = s.spec as unknown as SweepSpec;
  return {
    id: s.id,
    teamId: s.teamId,
    name: s.name,
    status: s.status,
    kind: s.kind,
    maxTrials: spec.maxTrials,
    maxConcurrent: spec.maxConcurrent,
    priority: s.priority,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    finishedAt: iso(s.finishedAt),
  };
}

export function toSweepResource(s: SweepRow): Sweep {
  const spec = s.spec as unknown as SweepSpec;
  const runStatus = new Map(s.runs.map((r) => [r.id, r.status]));
  const trials: SweepTrial[] = s.trials.map((t) => {
    const rungMetrics = t.rungMetrics as (number | null)[];
    return {
      index: t.index,
      runId: t.runId,
      params: t.params as SweepTrial['params'],
      status: t.state as TrialState,
      runStatus: t.runId ? (runStatus.get(t.runId) ?? null) : null,
      rung: t.rung,
      rungMetrics,
      metric: lastValue(rungMetrics),
      stopReason: t.stopReason,
    };
  });
  const b = best({ metric: spec.metric, trials: spec.trials }, trialReports(s));
  return {
    ...toSweepSummary(s),
    base: s.base as Record<string, unknown>,
    space: spec.space as Record<string, unknown>,
    algorithm: { ...spec.algorithm },
    metric: spec.metric,
    rungs: spec.rungs,
    trials,
    best: b ? { index: b.index, runId: trials.find((t) => t.index === b.index)?.runId ?? null, params: b.params, metric: b.metric } : null,
    error: s.error,
  };
}
