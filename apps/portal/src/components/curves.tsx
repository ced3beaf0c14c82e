/**
 * A run's curves: one chart per metric name; run-level series as one line, per-rank series
 * (step and all-reduce times) as one line per rank. History is the API's min/max downsampling
 * (spikes kept); live points from the stream are appended after its last step. Smoothing (EMA)
 * and log scale are the caller's, kept in the URL.
 */
import { useMemo } from 'react';
import { useQueries, useQuery } from '@tanstack/react-query';
import type { Series, SeriesInfo } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { seriesKey, type LivePoints } from '../live-run.ts';
import { smooth } from '../lib/smoothing.ts';
import { LineChart, PALETTE, type ChartSeries } from './LineChart.tsx';

/** history + live points after it, by step */
export function mergeLive(history: Series | undefined, live: Map<number, number> | undefined): { x: number[]; y: number[] } {
  const x = history?.points.map((p) => p.step) ?? [];
  const y = history?.points.map((p) => p.value) ?? [];
  if (live && live.size > 0) {
    const after = x.length ? x[x.length - 1] : -Infinity;
    const extra = [...live.entries()].filter(([s]) => s > after).sort((a, b) => a[0] - b[0]);
    for (const [s, v] of extra) {
      x.push(s);
      y.push(v);
    }
  }
  return { x, y };
}

/** the chart lines for one curve: raw faint + smoothed when smoothing is on */
export function lines(label: string, x: number[], y: number[], weight: number, color: string): ChartSeries[] {
  if (weight <= 0) return [{ label, x, y, color }];
  return [
    { label: `${label} (raw)`, x, y, color, faint: true },
    { label, x, y: smooth(y, weight), color },
  ];
}

const ORDER = ['loss', 'lr', 'momentum'];

export function RunCurves({
  runId,
  live,
  liveVersion,
  weight,
  logY,
  running,
}: {
  runId: string;
  live: LivePoints;
  liveVersion: number;
  weight: number;
  logY: boolean;
  running: boolean;
}) {
  const api = useApi();
  const list = useQuery({
    queryKey: ['run', runId, 'series-list'],
    queryFn: () => api.seriesList(runId),
    refetchInterval: running ? 15_000 : false,
  });
  const infos: SeriesInfo[] = list.data?.series ?? [];
  const results = useQueries({
    queries: infos.map((s) => ({
      queryKey: ['run', runId, 'series', s.name, s.rank],
      queryFn: () => api.series(runId, s.name, { rank: s.rank, buckets: 1000 }),
      staleTime: running ? 30_000 : Infinity,
    })),
  });
  const histories = results.map((r) => r.data);
  const charts = useMemo(() => {
    const byName = new Map<string, ChartSeries[]>();
    infos.forEach((info, i) => {
      const { x, y } = mergeLive(histories[i], live.get(seriesKey(info.name, info.rank)));
      const label = info.rank === null ? info.name : `rank ${info.rank}`;
      const color = PALETTE[(info.rank ?? 0) % PALETTE.length];
      const list = byName.get(info.name) ?? [];
      list.push(...lines(label, x, y, info.rank === null ? weight : 0, color));
      byName.set(info.name, list);
    });
    return [...byName.entries()].sort((a, b) => {
      const ia = ORDER.indexOf(a[0]);
      const ib = ORDER.indexOf(b[0]);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a[0].localeCompare(b[0]);
    });
    // liveVersion: the live map is mutated in place
  }, [infos, ...histories, liveVersion, weight]);
  if (list.isLoading) return <p className="muted">Loading curves…</p>;
  if (charts.length === 0)
    return (
      <p className="muted" data-testid="no-curves">
        {running ? 'No metrics yet: the first points appear here as the run writes them.' : 'This run recorded no metrics.'}
      </p>
    );
  return (
    <div className="charts">
      {charts.map(([name, series]) => (
        <LineChart key={name} title={name} series={series} logY={logY} testId={`chart-${name}`} />
      ))}
    </div>
  );
}
