/**
 * Correlation maps: the paper's figure (exemplar, context with the true region, predicted map)
 * for pre-training checkpoints, rendered by workers (GET/POST /v1/runs/:id/figures), side by
 * side: one row per run, one column per checkpoint step. Held-out images or an uploaded one.
 * A server without the figures routes (404) is said so plainly.
 */
import { useState } from 'react';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../api/client.ts';
import type { Figure } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { Link, useSearchState } from '../routing.tsx';
import { RunPicker } from '../components/run-picker.tsx';
import { runLabel, shortId } from '../lib/format.ts';

export const MAX_MAP_RUNS = 4;
const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;

async function toBase64(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function RequestFigure({ runId }: { runId: string }) {
  const api = useApi();
  const qc = useQueryClient();
  const checkpoints = useQuery({ queryKey: ['run', runId, 'checkpoints'], queryFn: () => api.checkpoints(runId) });
  const [checkpoint, setCheckpoint] = useState('latest');
  const [file, setFile] = useState<File | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const request = useMutation({
    mutationFn: async () => {
      if (file && file.size > MAX_UPLOAD_BYTES) throw new Error(`the image is ${(file.size / 1048576).toFixed(1)} MiB; at most 4 MiB`);
      return api.requestFigure(runId, checkpoint, file ? await toBase64(file) : undefined);
    },
    onSuccess: (r) => {
      setNote(`requested (${r.status})`);
      void qc.invalidateQueries({ queryKey: ['run', runId, 'figures'] });
    },
  });
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        request.mutate();
      }}
    >
      <label>
        Checkpoint
        <select value={checkpoint} onChange={(e) => setCheckpoint(e.target.value)}>
          <option value="latest">latest</option>
          {(checkpoints.data?.checkpoints ?? []).map((c) => (
            <option key={c.id} value={c.id}>
              step {c.step}
            </option>
          ))}
        </select>
      </label>
      <label>
        Image (optional, PNG or JPEG)
        <input type="file" accept="image/png,image/jpeg" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </label>
      <button type="submit" disabled={request.isPending}>
        {file ? 'Render on my image' : 'Render on held-out images'}
      </button>
      {note && <span className="muted"> {note}</span>}
      {request.error && <span className="error"> {(request.error as Error).message}</span>}
    </form>
  );
}

export function MapsPage() {
  const api = useApi();
  const { params, set } = useSearchState();
  const ids = params.getAll('run').slice(0, MAX_MAP_RUNS);
  const source = params.get('source') ?? 'heldout';
  const runs = useQueries({ queries: ids.map((id) => ({ queryKey: ['run', id, 'row'], queryFn: () => api.run(id) })) });
  const figures = useQueries({
    queries: ids.map((id) => ({
      queryKey: ['run', id, 'figures'],
      queryFn: () => api.figures(id),
      retry: false,
      // pending figures turn ready when a worker has rendered them
      refetchInterval: (q: { state: { data?: { items: Figure[] } } }) =>
        q.state.data?.items.some((f) => f.status === 'pending') ? 3000 : false,
    })),
  });
  const missing = figures.some((f) => f.error instanceof ApiError && f.error.status === 404 && /no route/.test(f.error.message));
  const items = figures.map((f) => (f.data?.items ?? []).filter((x) => x.source === source));
  const steps = [...new Set(items.flat().map((f) => f.step))].sort((a, b) => a - b);

  return (
    <main>
      <div className="page-head">
        <h1>Correlation maps</h1>
      </div>
      <p className="muted">
        For each exemplar: the crop, the context with the true region outlined, and the map the model predicts. Rows are runs, columns are
        checkpoint steps.
      </p>
      <div className="filters">
        <RunPicker label="Pre-training runs" kind="pretrain" selected={ids} max={MAX_MAP_RUNS} onChange={(next) => set({ run: next })} />
        <div className="segmented" role="radiogroup" aria-label="Images">
          {(['heldout', 'upload'] as const).map((s) => (
            <label key={s}>
              <input type="radio" name="source" checked={source === s} onChange={() => set({ source: s === 'heldout' ? null : s })} />{' '}
              {s === 'heldout' ? 'held-out images' : 'uploaded image'}
            </label>
          ))}
        </div>
      </div>
      {missing && (
        <p role="status" className="notice" data-testid="figures-unavailable">
          This server does not render correlation-map figures yet (the figures API answered 404). Curves, checkpoints and the rest work as
          usual; the CLI's <code>cim visualize</code> draws the same figure from a downloaded checkpoint.
        </p>
      )}
      {ids.length === 0 && <p className="muted">Pick a pre-training run.</p>}
      {ids.map((id, i) => {
        const r = runs[i]?.data;
        const err = figures[i]?.error;
        const byStep = new Map(items[i].map((f) => [f.step, f]));
        return (
          <section key={id} className="maps-row" aria-label={`Figures of ${r ? runLabel(r) : shortId(id)}`}>
            <div className="section-head">
              <h2>
                <Link to={`/runs/${id}`}>{r ? runLabel(r) : shortId(id)}</Link>
              </h2>
              <button type="button" className="ghost small" onClick={() => set({ run: ids.filter((x) => x !== id) })}>
                Remove
              </button>
            </div>
            {!missing && <RequestFigure runId={id} />}
            {err && !missing && <p className="error">{(err as Error).message}</p>}
            <div className="maps-grid" style={{ gridTemplateColumns: `repeat(${Math.max(1, steps.length)}, minmax(180px, 1fr))` }}>
              {steps.map((step) => {
                const f = byStep.get(step);
                return (
                  <figure key={step} className="map-cell" data-status={f?.status ?? 'none'}>
                    {f?.status === 'ready' && f.url ? (
                      <a href={f.url} target="_blank" rel="noreferrer">
                        <img src={f.url} alt={`Correlation maps at step ${step}`} loading="lazy" />
                      </a>
                    ) : f?.status === 'pending' ? (
                      <div className="placeholder">rendering…</div>
                    ) : f?.status === 'failed' ? (
                      <div className="placeholder error">{f.error ?? 'failed'}</div>
                    ) : (
                      <div className="placeholder muted">—</div>
                    )}
                    <figcaption>step {step}</figcaption>
                  </figure>
                );
              })}
              {steps.length === 0 && !missing && !err && <p className="muted">No figures yet: request one above.</p>}
            </div>
          </section>
        );
      })}
    </main>
  );
}
