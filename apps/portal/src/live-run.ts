/**
 * A run's live state: the REST history (run, events, series) in TanStack Query's cache, kept
 * current by GET /v1/runs/:id/stream. Status messages patch the run; events are appended (deduped
 * by id); metric points are collected per series and merged onto the downsampled history by the
 * charts. The stream is opened first and the history re-read once it answers, so nothing written
 * in between is missed.
 */
import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { readSse } from './api/sse.ts';
import { TERMINAL_RUN_STATUSES, type Run, type RunEvent, type RunStatus } from '@cim-forge/client';
import { useApi } from './api-context.tsx';

const isTerminal = (s: string) => (TERMINAL_RUN_STATUSES as readonly string[]).includes(s);

export type LivePoints = Map<string, Map<number, number>>;
export const seriesKey = (name: string, rank: number | null) => `${name}|${rank ?? ''}`;

export function useRunStream(runId: string, status: RunStatus | undefined) {
  const api = useApi();
  const qc = useQueryClient();
  const [state, setState] = useState<'connecting' | 'open' | 'closed' | 'error'>('connecting');
  const [live, setLive] = useState<{ points: LivePoints; version: number }>({ points: new Map(), version: 0 });
  const finished = status !== undefined && isTerminal(status);

  useEffect(() => {
    if (finished) {
      setState('closed');
      return;
    }
    const abort = new AbortController();
    let first = true;
    void readSse({
      url: `${api.o.base}/v1/runs/${runId}/stream`,
      headers: () => api.headers(),
      signal: abort.signal,
      onState: setState,
      onMessage: (m) => {
        if (first) {
          first = false;
          void qc.invalidateQueries({ queryKey: ['run', runId] });
        }
        if (m.event === 'status') {
          const patch = m.data as Partial<Run>;
          qc.setQueryData<Run>(['run', runId, 'row'], (old) => (old ? { ...old, ...patch, id: old.id } : old));
          if (patch.status && isTerminal(patch.status)) void qc.invalidateQueries({ queryKey: ['run', runId] });
        } else if (m.event === 'run-event') {
          const e = m.data as RunEvent;
          qc.setQueryData<{ events: RunEvent[] }>(['run', runId, 'events'], (old) =>
            old && !old.events.some((x) => String(x.id) === String(e.id)) ? { events: [...old.events, e] } : old,
          );
          if (e.type.startsWith('checkpoint')) void qc.invalidateQueries({ queryKey: ['run', runId, 'checkpoints'] });
        } else if (m.event === 'metric') {
          const pts = (m.data as { points: { name: string; rank: number | null; step: number; value: number }[] }).points;
          setLive((old) => {
            for (const p of pts) {
              const k = seriesKey(p.name, p.rank);
              let s = old.points.get(k);
              if (!s) {
                s = new Map();
                old.points.set(k, s);
                void qc.invalidateQueries({ queryKey: ['run', runId, 'series-list'] });
              }
              s.set(p.step, p.value);
            }
            return { points: old.points, version: old.version + 1 };
          });
        }
      },
    });
    return () => abort.abort();
  }, [api, qc, runId, finished]);

  return { state, live };
}
