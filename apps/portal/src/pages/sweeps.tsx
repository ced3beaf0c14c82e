/** The team's sweeps, newest first (the list's rows are summaries: status, kind, trials, times). */
import { useQuery } from '@tanstack/react-query';
import { useApi } from '../api-context.tsx';
import { Link } from '../routing.tsx';
import { fmtTime, shortId } from '../lib/format.ts';
import { SweepStatusBadge } from './sweep.tsx';

export function SweepsPage() {
  const api = useApi();
  const list = useQuery({ queryKey: ['sweeps'], queryFn: () => api.sweeps({ limit: 100 }), refetchInterval: 15_000 });
  const sweeps = list.data?.sweeps ?? [];
  return (
    <main>
      <div className="page-head">
        <h1>Sweeps</h1>
        <div className="actions">
          <Link to="/sweeps/new" className="button primary">
            New sweep
          </Link>
        </div>
      </div>
      {list.error && (
        <p role="alert" className="error">
          {(list.error as Error).message}
        </p>
      )}
      <table className="table" data-testid="sweeps-table">
        <thead>
          <tr>
            <th>Sweep</th>
            <th>Status</th>
            <th>Kind</th>
            <th>Trials</th>
            <th>At once</th>
            <th>Priority</th>
            <th>Created</th>
            <th>Finished</th>
          </tr>
        </thead>
        <tbody>
          {sweeps.map((s) => (
            <tr key={s.id} data-sweep-id={s.id}>
              <td>
                <Link to={`/sweeps/${s.id}`} className="run-link">
                  {s.name ?? 'Unnamed sweep'} <code className="muted">{shortId(s.id)}</code>
                </Link>
              </td>
              <td>
                <SweepStatusBadge status={s.status} />
              </td>
              <td>{s.kind}</td>
              <td className="num">{s.maxTrials}</td>
              <td className="num">{s.maxConcurrent}</td>
              <td className="num">{s.priority}</td>
              <td>{fmtTime(s.createdAt)}</td>
              <td>{fmtTime(s.finishedAt)}</td>
            </tr>
          ))}
          {!list.isLoading && sweeps.length === 0 && (
            <tr>
              <td colSpan={8} className="muted empty">
                No sweeps yet. Open a finished run and choose “Sweep from this run”, or <Link to="/sweeps/new">start one</Link>.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </main>
  );
}
