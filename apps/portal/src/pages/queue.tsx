/** Queue: the team's queued runs with their global positions, how many runs are ahead, and estimated starts. */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useApi } from '../api-context.tsx';
import { Link } from '../routing.tsx';
import { fmtTime, runLabel, shortId } from '../lib/format.ts';

function inMinutes(iso: string, now = Date.now()): string {
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (s <= 0) return 'now';
  if (s < 60) return `in ${s} s`;
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  return `in ${(s / 3600).toFixed(1)} h`;
}

export function QueuePage() {
  const api = useApi();
  const qc = useQueryClient();
  const queue = useQuery({ queryKey: ['queue'], queryFn: () => api.queue(), refetchInterval: 5000 });
  const queued = useQuery({
    queryKey: ['runs', { status: 'QUEUED', queue: true }],
    queryFn: () => api.runs({ status: 'QUEUED', limit: 200 }),
    refetchInterval: 5000,
  });
  const names = new Map((queued.data?.runs ?? []).map((r) => [r.id, r]));
  const cancel = useMutation({
    mutationFn: (id: string) => api.cancel(id),
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: ['queue'] });
      void qc.invalidateQueries({ queryKey: ['runs'] });
    },
  });
  const entries = queue.data?.runs ?? [];
  return (
    <main>
      <div className="page-head">
        <h1>Queue</h1>
      </div>
      <p className="muted">
        Order: priority, then time queued. Positions count every team's queued runs; estimates use the mean duration of recent runs of the
        same kind and the runs now training.
      </p>
      {queue.error && (
        <p role="alert" className="error">
          {(queue.error as Error).message}
        </p>
      )}
      <table className="table" data-testid="queue-table">
        <thead>
          <tr>
            <th>Position</th>
            <th>Run</th>
            <th>Kind</th>
            <th>Priority</th>
            <th>Ahead of it</th>
            <th>Queued</th>
            <th>Estimated start</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => {
            const r = names.get(e.id);
            return (
              <tr key={e.id} data-run-id={e.id}>
                <td className="num">#{e.position}</td>
                <td>
                  <Link to={`/runs/${e.id}`}>{r ? runLabel(r) : shortId(e.id)}</Link>
                </td>
                <td>{e.kind}</td>
                <td className="num">{e.priority}</td>
                <td className="num">{e.position - 1 === 0 ? 'none: next' : `${e.position - 1} run${e.position - 1 === 1 ? '' : 's'}`}</td>
                <td>{fmtTime(e.queuedAt)}</td>
                <td title={e.estimatedStartAt}>
                  {inMinutes(e.estimatedStartAt)} <span className="muted">({fmtTime(e.estimatedStartAt)})</span>
                </td>
                <td>
                  <button
                    type="button"
                    className="small danger"
                    onClick={() => cancel.mutate(e.id)}
                    disabled={cancel.isPending && cancel.variables === e.id}
                  >
                    Cancel
                  </button>
                </td>
              </tr>
            );
          })}
          {!queue.isLoading && entries.length === 0 && (
            <tr>
              <td colSpan={8} className="muted empty">
                Nothing of yours is waiting.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {cancel.error && (
        <p role="alert" className="error">
          {(cancel.error as Error).message}
        </p>
      )}
    </main>
  );
}
