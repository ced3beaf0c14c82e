/** Best (lowest) and last loss of runs, from one 1-bucket min/max read each (4 points at most). */
import { useMemo } from 'react';
import { useQueries } from '@tanstack/react-query';
import type { Api } from './api/client.ts';
import type { Series } from '@cim-forge/client';

export interface LossSummary {
  best: number | null;
  last: number | null;
}

export function summarize(s: Series | undefined): LossSummary {
  if (!s || s.points.length === 0) return { best: null, last: null };
  return { best: Math.min(...s.points.map((p) => p.value)), last: s.points[s.points.length - 1].value };
}

export function useLossSummaries(api: Api, runIds: string[]): Map<string, LossSummary> {
  const results = useQueries({
    queries: runIds.map((id) => ({
      queryKey: ['run', id, 'loss-summary'],
      queryFn: () => api.series(id, 'loss', { buckets: 1 }),
      staleTime: 15_000,
    })),
  });
  const summaries = runIds.map((_, i) => summarize(results[i]?.data));
  // a stable Map while nothing changed: the runs table re-sorts (and re-renders) on a new one
  const key = JSON.stringify([runIds, summaries]);
  return useMemo(() => new Map(runIds.map((id, i) => [id, summaries[i]])), [key]);
}
