/**
 * One run: status (live), actions (cancel, clone and edit, fine-tune from it, its correlation
 * maps), curves fed by the stream, the events timeline, checkpoints with downloads, lineage, an
 * eval's robustness report, and the resolved config.
 */
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { TERMINAL_RUN_STATUSES, type Checkpoint } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { Link, useRouter, useSearchState } from '../routing.tsx';
import { useRunStream } from '../live-run.ts';
import { StatusBadge } from '../components/status-badge.tsx';
import { RunCurves } from '../components/curves.tsx';
import { Lineage } from '../components/lineage.tsx';
import { RobustnessTables, isRobustnessReport } from '../components/robustness.tsx';
import { fmtBytes, fmtDuration, fmtNumber, fmtTime, runLabel, shortId } from '../lib/format.ts';
import { PageHead } from '../components/page-head.tsx';

const isTerminal = (s: string) => (TERMINAL_RUN_STATUSES as readonly string[]).includes(s);

function Downloads({ runId, checkpoint }: { runId: string; checkpoint: Checkpoint }) {
  const api = useApi();
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const go = async () => {
    setError(null);
    try {
      const d = await api.download(runId, checkpoint.id);
      setInfo(`${fmtBytes(d.bytes)}${d.sha256 ? `, sha256 ${d.sha256.slice(0, 12)}…` : ''}`);
      const a = document.createElement('a');
      a.href = d.url;
      a.download = d.file;
      a.rel = 'noopener';
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <button type="button" className="small" onClick={go}>
        Download weights
      </button>
      {info && <span className="muted"> {info}</span>}
      {error && <span className="error"> {error}</span>}
    </>
  );
}

export function RunPage({ id }: { id: string }) {
  const api = useApi();
  const qc = useQueryClient();
  const { navigate } = useRouter();
  const { params, set } = useSearchState();
  const weight = Number(params.get('smooth') ?? '0.6');
  const logY = params.get('log') === '1';

  const run = useQuery({ queryKey: ['run', id, 'row'], queryFn: () => api.run(id) });
  const r = run.data;
  const active = r !== undefined && !isTerminal(r.status);
  const { state, live } = useRunStream(id, r?.status);
  const events = useQuery({ queryKey: ['run', id, 'events'], queryFn: () => api.events(id), enabled: !!r });
  const checkpoints = useQuery({ queryKey: ['run', id, 'checkpoints'], queryFn: () => api.checkpoints(id), enabled: !!r });
  const cancel = useMutation({
    mutationFn: () => api.cancel(id),
    onSuccess: (row) => {
      qc.setQueryData(['run', id, 'row'], row);
      void qc.invalidateQueries({ queryKey: ['runs'] });
    },
  });

  if (run.error) {
    return (
      <main>
        <h1>Run {shortId(id)}</h1>
        <p role="alert" className="error">
          {(run.error as Error).message}
        </p>
        <Link to="/runs">Back to runs</Link>
      </main>
    );
  }
  if (!r) return <main className="muted">Loading…</main>;
  const report = [...(events.data?.events ?? [])].reverse().find((e) => e.type === 'run.eval' && isRobustnessReport(e.data));
  const cks = checkpoints.data?.checkpoints ?? [];

  return (
    <main>
      <PageHead
        crumb={{ to: '/runs', label: 'Runs' }}
        kind={r.kind}
        title={r.name ?? 'Unnamed run'}
        id={r.id}
        badge={<StatusBadge status={r.status} />}
        following={active}
        live={state}
        extra={r.error && <span className="error"> {r.error}</span>}
        actions={
          <>
            {active && (
              <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
                {cancel.isPending ? 'Cancelling…' : 'Cancel run'}
              </button>
            )}
            <button type="button" onClick={() => navigate(`/submit?clone=${r.id}`)}>
              Clone and edit
            </button>
            {r.kind === 'pretrain' && (
              <button
                type="button"
                className="primary"
                disabled={cks.length === 0}
                title={cks.length === 0 ? 'needs a checkpoint' : undefined}
                onClick={() => navigate(`/submit?kind=finetune&from=${r.id}`)}
              >
                Fine-tune from this run
              </button>
            )}
            {r.kind === 'finetune' && (
              <button type="button" disabled={cks.length === 0} onClick={() => navigate(`/submit?kind=eval&from=${r.id}`)}>
                Evaluate robustness
              </button>
            )}
            {isTerminal(r.status) && (
              <button
                type="button"
                title={
                  r.kind === 'pretrain' && r.status === 'SUCCEEDED'
                    ? 'a fine-tuning sweep from its checkpoint'
                    : "a sweep with this run's config as base"
                }
                onClick={() => navigate(`/sweeps/new?from=${r.id}`)}
              >
                Sweep from this run
              </button>
            )}
            {r.kind === 'pretrain' && (
              <button type="button" onClick={() => navigate(`/maps?run=${r.id}`)}>
                Correlation maps
              </button>
            )}
          </>
        }
        error={cancel.error}
      />

      <dl className="facts">
        <div>
          <dt>Preset</dt>
          <dd>{r.preset ?? '—'}</dd>
        </div>
        <div>
          <dt>Ranks</dt>
          <dd>{r.worldSize}</dd>
        </div>
        <div>
          <dt>Priority</dt>
          <dd>{r.priority}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{fmtTime(r.createdAt)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{fmtTime(r.startedAt)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{fmtDuration(r.startedAt, r.finishedAt)}</dd>
        </div>
        <div>
          <dt>Restarts</dt>
          <dd>
            {r.infraRestarts} / {r.maxRestarts}
            {r.userRestarts ? ` (+${r.userRestarts} preempted)` : ''}
          </dd>
        </div>
        {r.source && (
          <div>
            <dt>Source</dt>
            <dd>
              {r.source.runId ? <Link to={`/runs/${r.source.runId}`}>{shortId(r.source.runId)}</Link> : <code>{r.source.uri}</code>} step{' '}
              {r.source.step}
            </dd>
          </div>
        )}
      </dl>

      <section aria-labelledby="curves-h">
        <div className="section-head">
          <h2 id="curves-h">Curves</h2>
          <div className="chart-controls">
            <label>
              <span>
                Smoothing <output>{weight.toFixed(2)}</output>
              </span>
              <input
                type="range"
                min={0}
                max={0.99}
                step={0.01}
                value={weight}
                onChange={(e) => set({ smooth: e.target.value })}
                aria-label="Smoothing weight"
              />
            </label>
            <label>
              <input type="checkbox" checked={logY} onChange={(e) => set({ log: e.target.checked ? '1' : null })} /> Log scale
            </label>
          </div>
        </div>
        <RunCurves runId={id} live={live.points} liveVersion={live.version} weight={weight} logY={logY} running={active} />
      </section>

      {report && (
        <section aria-labelledby="robust-h">
          <h2 id="robust-h">Robustness</h2>
          <RobustnessTables report={report.data as never} />
        </section>
      )}

      <div className="two-col">
        <section aria-labelledby="events-h">
          <h2 id="events-h">Timeline</h2>
          <ol className="timeline" data-testid="timeline">
            {(events.data?.events ?? []).map((e) => (
              <li key={String(e.id)} className={`ev ev-${e.type.split('.')[0]}`}>
                <time dateTime={e.at}>{fmtTime(e.at)}</time> <code>{e.type}</code> {e.message}
              </li>
            ))}
          </ol>
        </section>
        <section aria-labelledby="lineage-h">
          <h2 id="lineage-h">Lineage</h2>
          <Lineage run={r} />
          <h2 id="ckpt-h">Checkpoints</h2>
          {cks.length === 0 ? (
            <p className="muted">None yet.</p>
          ) : (
            <table className="table compact" aria-labelledby="ckpt-h" data-testid="checkpoints">
              <thead>
                <tr>
                  <th>step</th>
                  <th>epoch</th>
                  <th>metrics</th>
                  <th>completed</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {cks.map((c) => (
                  <tr key={c.id}>
                    <td className="num">{c.step}</td>
                    <td className="num">{c.epoch ?? '—'}</td>
                    <td>
                      {Object.entries(c.metrics ?? {})
                        .filter(([, v]) => typeof v === 'number')
                        .slice(0, 3)
                        .map(([k, v]) => `${k} ${fmtNumber(v as number)}`)
                        .join(', ') || '—'}
                    </td>
                    <td>{fmtTime(c.completedAt as string | null)}</td>
                    <td>
                      <Downloads runId={id} checkpoint={c} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>

      <section aria-labelledby="config-h">
        <details>
          <summary>
            <h2 id="config-h">Resolved config</h2>
          </summary>
          <pre className="config" data-testid="config">
            {JSON.stringify(r.config, null, 2)}
          </pre>
        </details>
      </section>
      <p className="muted small">
        Run {runLabel(r)}, updated {fmtTime(r.updatedAt)}.
      </p>
    </main>
  );
}
