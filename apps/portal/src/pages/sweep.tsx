/**
 * One sweep: its status (live over the sweep's stream), cancel, the trials in a table (params,
 * status, rung, metric, stop reason, a link to the run), a parallel-coordinates plot of params →
 * metric, the metric of every trial over steps with the rung budgets marked, and the best-so-far
 * curve. A trial's row or line opens its run.
 */
import { useMemo } from 'react';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApi } from '../api-context.tsx';
import { Link, useRouter } from '../routing.tsx';
import type { ParamValue, Sweep, SweepTrial } from '../api/sweep-types.ts';
import { isSweepOver, useSweepStream } from '../sweep-live.ts';
import { LineChart, PALETTE, type ChartSeries } from '../components/LineChart.tsx';
import { ParallelCoordinates } from '../components/parallel-coords.tsx';
import { PageHead } from '../components/page-head.tsx';
import { fmtDuration, fmtNumber, fmtTime, shortId } from '../lib/format.ts';

export function SweepStatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {status}
    </span>
  );
}

export function TrialBadge({ status }: { status: string }) {
  return (
    <span className={`badge trial-${status}`} data-trial-status={status}>
      {status}
    </span>
  );
}

export const fmtParam = (v: ParamValue | undefined) => (typeof v === 'number' ? fmtNumber(v) : v === undefined ? '—' : String(v));

export function algorithmLabel(s: Pick<Sweep, 'algorithm'>): string {
  const a = s.algorithm;
  if (a.name === 'asha') return `ASHA (η ${a.eta ?? 3}${a.seed !== undefined ? `, seed ${a.seed}` : ''})`;
  if (a.name === 'random') return `random (seed ${a.seed ?? 0})`;
  return 'grid';
}

/** the best metric after each trial, in trial order (the goal's direction) */
export function bestSoFar(trials: SweepTrial[], goal: 'max' | 'min'): { x: number[]; y: number[]; best: number[] } {
  const done = trials.filter((t) => t.metric !== null && Number.isFinite(t.metric)).sort((a, b) => a.index - b.index);
  const x: number[] = [];
  const y: number[] = [];
  const best: number[] = [];
  let b: number | null = null;
  for (const t of done) {
    const m = t.metric as number;
    b = b === null ? m : goal === 'max' ? Math.max(b, m) : Math.min(b, m);
    x.push(t.index);
    y.push(m);
    best.push(b);
  }
  return { x, y, best };
}

function TrialCurves({ sweep }: { sweep: Sweep }) {
  const api = useApi();
  const running = !isSweepOver(sweep.status);
  const trials = sweep.trials.filter((t) => t.runId);
  const results = useQueries({
    queries: trials.map((t) => ({
      queryKey: ['sweep', sweep.id, 'curves', t.runId, sweep.metric.name],
      queryFn: () => api.series(t.runId!, sweep.metric.name, { buckets: 500 }),
      staleTime: running ? 10_000 : Infinity,
    })),
  });
  const loaded = results.map((r) => r.data);
  const series: ChartSeries[] = useMemo(
    () =>
      trials.map((t, i) => ({
        label: `#${t.index}`,
        x: loaded[i]?.points.map((p) => p.step) ?? [],
        y: loaded[i]?.points.map((p) => p.value) ?? [],
        color: PALETTE[t.index % PALETTE.length],
      })),
    // the series are rebuilt when any trial's points arrive
    [trials.map((t) => t.runId).join(), ...loaded],
  );
  return <LineChart title={`${sweep.metric.name} of every trial`} series={series} marks={sweep.rungs} testId="sweep-curves" height={280} />;
}

export function SweepPage({ id }: { id: string }) {
  const api = useApi();
  const qc = useQueryClient();
  const { navigate } = useRouter();
  const q = useQuery({ queryKey: ['sweep', id], queryFn: async () => (await api.sweep(id)) as Sweep });
  const s = q.data;
  const live = useSweepStream(id, s?.status);
  const cancel = useMutation({
    mutationFn: () => api.cancelSweep(id),
    onSuccess: (row) => {
      if (row && Array.isArray((row as { trials?: unknown }).trials)) qc.setQueryData(['sweep', id], row);
      else void qc.invalidateQueries({ queryKey: ['sweep', id] });
      void qc.invalidateQueries({ queryKey: ['sweeps'] });
    },
  });
  if (q.error)
    return (
      <main>
        <h1>Sweep {shortId(id)}</h1>
        <p role="alert" className="error">
          {(q.error as Error).message}
        </p>
        <Link to="/sweeps">Back to sweeps</Link>
      </main>
    );
  if (!s) return <main className="muted">Loading…</main>;
  const keys = [...new Set([...Object.keys(s.space), ...s.trials.flatMap((t) => Object.keys(t.params))])];
  const open = (t: SweepTrial) => t.runId && navigate(`/runs/${t.runId}`);
  const bsf = bestSoFar(s.trials, s.metric.goal);
  const baseSource = (s.base as { source?: { runId?: string } }).source?.runId;
  const counts = s.trials.reduce<Record<string, number>>((m, t) => ((m[t.status] = (m[t.status] ?? 0) + 1), m), {});
  return (
    <main>
      <PageHead
        crumb={{ to: '/sweeps', label: 'Sweeps' }}
        kind={s.kind}
        title={s.name ?? 'Unnamed sweep'}
        id={s.id}
        badge={<SweepStatusBadge status={s.status} />}
        following={s.status === 'RUNNING'}
        live={live}
        extra={
          <>
            {' '}
            <span className="muted small" data-testid="trial-counts">
              {Object.entries(counts)
                .map(([k, n]) => `${n} ${k}`)
                .join(' · ')}
            </span>
          </>
        }
        actions={
          <>
            {s.status === 'RUNNING' && (
              <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
                {cancel.isPending ? 'Cancelling…' : 'Cancel sweep'}
              </button>
            )}
            {s.best?.runId && (
              <button type="button" className="primary" onClick={() => navigate(`/runs/${s.best!.runId}`)}>
                Open the best trial
              </button>
            )}
          </>
        }
        error={cancel.error}
      />
      <dl className="facts">
        <div>
          <dt>Algorithm</dt>
          <dd>{algorithmLabel(s)}</dd>
        </div>
        <div>
          <dt>Metric</dt>
          <dd>
            {s.metric.name} ({s.metric.goal})
          </dd>
        </div>
        <div>
          <dt>Trials</dt>
          <dd>
            {s.trials.length} / {s.maxTrials}, {s.maxConcurrent} at once
          </dd>
        </div>
        <div>
          <dt>Rungs (steps)</dt>
          <dd>{s.rungs.length ? s.rungs.join(', ') : '—'}</dd>
        </div>
        <div>
          <dt>Best</dt>
          <dd data-testid="best">
            {s.best ? (
              <>
                {fmtNumber(s.best.metric)} (trial {s.best.index})
              </>
            ) : (
              '—'
            )}
          </dd>
        </div>
        {baseSource && (
          <div>
            <dt>From</dt>
            <dd>
              <Link to={`/runs/${baseSource}`}>{shortId(baseSource)}</Link>
            </dd>
          </div>
        )}
        <div>
          <dt>Created</dt>
          <dd>{fmtTime(s.createdAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{fmtDuration(s.createdAt, s.finishedAt)}</dd>
        </div>
      </dl>

      <section aria-labelledby="pc-h">
        <h2 id="pc-h">Parameters → {s.metric.name}</h2>
        {s.trials.length === 0 ? (
          <p className="muted">No trials yet.</p>
        ) : (
          <ParallelCoordinates space={s.space} trials={s.trials} metric={s.metric} bestIndex={s.best?.index ?? null} onOpen={open} />
        )}
      </section>

      <section aria-labelledby="trial-curves-h">
        <h2 id="trial-curves-h">Curves</h2>
        <div className="charts">
          <TrialCurves sweep={s} />
          <LineChart
            title={`best ${s.metric.name} so far`}
            xLabel="trial"
            testId="sweep-best"
            height={280}
            series={[
              { label: 'each trial', x: bsf.x, y: bsf.y, color: PALETTE[0], dots: true },
              { label: 'best so far', x: bsf.x, y: bsf.best, color: PALETTE[1] },
            ]}
          />
        </div>
        {s.rungs.length > 0 && <p className="muted small">Dashed lines: the rungs, where ASHA keeps the top trials and stops the rest.</p>}
      </section>

      <section aria-labelledby="trials-h">
        <h2 id="trials-h">Trials</h2>
        <table className="table compact trials" data-testid="trials-table" aria-labelledby="trials-h">
          <thead>
            <tr>
              <th>#</th>
              {keys.map((k) => (
                <th key={k}>{k}</th>
              ))}
              <th>status</th>
              <th>rung</th>
              <th>{s.metric.name}</th>
              <th>stop reason</th>
              <th>run</th>
            </tr>
          </thead>
          <tbody>
            {s.trials.map((t) => (
              <tr
                key={t.index}
                data-trial={t.index}
                className={`${t.runId ? 'clickable' : ''}${s.best?.index === t.index ? ' best' : ''}`}
                onClick={(e) => {
                  // the run link handles its own click (and middle clicks open a tab)
                  if ((e.target as HTMLElement).closest('a')) return;
                  open(t);
                }}
              >
                <td className="num">{t.index}</td>
                {keys.map((k) => (
                  <td key={k} className="num">
                    {fmtParam(t.params[k])}
                  </td>
                ))}
                <td>
                  <TrialBadge status={t.status} />
                </td>
                <td className="num">
                  {t.rung === null ? '—' : `${t.rung}${s.rungs[t.rung] !== undefined ? ` (${s.rungs[t.rung]})` : ''}`}
                </td>
                <td className="num">{fmtNumber(t.metric)}</td>
                <td>{t.stopReason ?? ''}</td>
                <td>{t.runId ? <Link to={`/runs/${t.runId}`}>{shortId(t.runId)}</Link> : <span className="muted">not started</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <p className="muted small">Updated {fmtTime(s.updatedAt)}.</p>
    </main>
  );
}
