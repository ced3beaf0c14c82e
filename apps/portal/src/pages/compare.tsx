/** Compare: 2–8 runs' curves overlaid (same metric, smoothing, log scale) and their configs diffed; state in the URL. */
import { useMemo } from 'react';
import { useQueries } from '@tanstack/react-query';
import { useApi } from '../api-context.tsx';
import { Link, useSearchState } from '../routing.tsx';
import { RunPicker } from '../components/run-picker.tsx';
import { LineChart, PALETTE, type ChartSeries } from '../components/LineChart.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { lines } from '../components/curves.tsx';
import { diffConfigs, formatValue } from '../lib/config-diff.ts';
import { runLabel, shortId } from '../lib/format.ts';

export const MAX_COMPARE = 8;

export function ComparePage() {
  const api = useApi();
  const { params, set } = useSearchState();
  const ids = params.getAll('run').slice(0, MAX_COMPARE);
  const metric = params.get('metric') ?? 'loss';
  const weight = Number(params.get('smooth') ?? '0.6');
  const logY = params.get('log') === '1';
  const all = params.get('all') === '1';

  const runs = useQueries({ queries: ids.map((id) => ({ queryKey: ['run', id, 'row'], queryFn: () => api.run(id) })) });
  const lists = useQueries({ queries: ids.map((id) => ({ queryKey: ['run', id, 'series-list'], queryFn: () => api.seriesList(id) })) });
  const series = useQueries({
    queries: ids.map((id) => ({ queryKey: ['run', id, 'series', metric, null], queryFn: () => api.series(id, metric, { buckets: 1000 }) })),
  });
  const names = [...new Set(lists.flatMap((l) => (l.data?.series ?? []).filter((s) => s.rank === null).map((s) => s.name)))].sort();
  const chart: ChartSeries[] = useMemo(
    () =>
      ids.flatMap((id, i) => {
        const s = series[i]?.data;
        if (!s) return [];
        const r = runs[i]?.data;
        return lines(
          r ? runLabel(r) : shortId(id),
          s.points.map((p) => p.step),
          s.points.map((p) => p.value),
          weight,
          PALETTE[i % PALETTE.length],
        );
      }),
    [ids.join(), ...series.map((s) => s.data), ...runs.map((r) => r.data), weight],
  );
  const configs = runs.map((r) => r.data?.config);
  const diff = configs.every((c) => c !== undefined) && configs.length > 0 ? diffConfigs(configs) : [];
  const rows = all ? diff : diff.filter((d) => d.differs);

  return (
    <main>
      <div className="page-head">
        <h1>Compare runs</h1>
      </div>
      <div className="filters">
        <RunPicker label="Runs" selected={ids} max={MAX_COMPARE} onChange={(next) => set({ run: next })} />
        <label>
          Metric
          <select value={metric} onChange={(e) => set({ metric: e.target.value })}>
            {(names.length ? names : [metric]).map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label>
          <span>
            Smoothing <output>{weight.toFixed(2)}</output>
          </span>
          <input type="range" min={0} max={0.99} step={0.01} value={weight} onChange={(e) => set({ smooth: e.target.value })} />
        </label>
        <label>
          <input type="checkbox" checked={logY} onChange={(e) => set({ log: e.target.checked ? '1' : null })} /> Log scale
        </label>
      </div>
      <ul className="chips" aria-label="Compared runs">
        {ids.map((id, i) => (
          <li key={id} className="chip" style={{ borderColor: PALETTE[i % PALETTE.length] }}>
            <span className="swatch" style={{ background: PALETTE[i % PALETTE.length] }} />
            <Link to={`/runs/${id}`}>{runs[i]?.data ? runLabel(runs[i].data!) : shortId(id)}</Link>{' '}
            {runs[i]?.data && <StatusBadge status={runs[i].data!.status} />}
            <button
              type="button"
              className="ghost small"
              aria-label={`Remove ${shortId(id)}`}
              onClick={() => set({ run: ids.filter((x) => x !== id) })}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      {ids.length < 2 ? (
        <p className="muted">Pick at least two runs (up to {MAX_COMPARE}), here or with the checkboxes on the Runs page.</p>
      ) : (
        <>
          <LineChart title={metric} series={chart} logY={logY} height={320} testId="compare-chart" />
          <section aria-labelledby="diff-h">
            <div className="section-head">
              <h2 id="diff-h">Config {all ? '' : 'differences'}</h2>
              <label>
                <input type="checkbox" checked={all} onChange={(e) => set({ all: e.target.checked ? '1' : null })} /> Show all fields
              </label>
            </div>
            <table className="table compact diff" data-testid="config-diff">
              <thead>
                <tr>
                  <th>field</th>
                  {ids.map((id, i) => (
                    <th key={id}>{runs[i]?.data ? runLabel(runs[i].data!) : shortId(id)}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <tr key={d.key} className={d.differs ? 'differs' : ''}>
                    <th scope="row">
                      <code>{d.key}</code>
                    </th>
                    {d.values.map((v, i) => (
                      <td key={i}>{formatValue(v)}</td>
                    ))}
                  </tr>
                ))}
                {rows.length === 0 && (
                  <tr>
                    <td colSpan={ids.length + 1} className="muted">
                      The configs are identical.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </section>
        </>
      )}
    </main>
  );
}
