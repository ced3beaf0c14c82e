/**
 * A sweep's live state: GET /v1/sweeps/:id in TanStack Query's cache, replaced by each state the
 * stream (GET /v1/sweeps/:id/stream) sends on a change. A message that is not a whole sweep
 * (a partial or unknown event) re-reads it instead. A finished sweep opens no stream.
 */
import { useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { readSse } from './api/sse.ts';
import { useApi } from './api-context.tsx';
import type { Sweep, SweepStatus } from './api/sweep-types.ts';

export const isSweepOver = (s: SweepStatus | undefined) => s !== undefined && s !== 'RUNNING';

function isSweep(d: unknown): d is Sweep {
  return typeof d === 'object' && d !== null && 'id' in d && 'status' in d && Array.isArray((d as { trials?: unknown }).trials);
}

export function useSweepStream(id: string, status: SweepStatus | undefined) {
  const api = useApi();
  const qc = useQueryClient();
  const [state, setState] = useState<'connecting' | 'open' | 'closed' | 'error'>('connecting');
  const over = status === undefined || isSweepOver(status);
  useEffect(() => {
    if (over) {
      setState('closed');
      return;
    }
    const abort = new AbortController();
    void readSse({
      url: `${api.o.base}/v1/sweeps/${id}/stream`,
      headers: () => api.headers(),
      signal: abort.signal,
      onState: setState,
      onMessage: (m) => {
        const d = (m.data as { sweep?: unknown } | null)?.sweep ?? m.data;
        if (isSweep(d) && d.id === id) qc.setQueryData(['sweep', id], d);
        else void qc.invalidateQueries({ queryKey: ['sweep', id] });
        // the trials' runs write metrics: their curves are re-read with the state
        void qc.invalidateQueries({ queryKey: ['sweep', id, 'curves'] });
      },
    });
    return () => abort.abort();
  }, [api, qc, id, over]);
  return state;
}
