/** Where a run came from (its source chain) and what came of it (fine-tunes, then their evaluations). */
import { useQueries, useQuery } from '@tanstack/react-query';
import type { Run } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { Link } from '../routing.tsx';
import { runLabel } from '../lib/format.ts';
import { StatusBadge } from './status-badge.tsx';

function RunChip({ run, current = false }: { run: Run; current?: boolean }) {
  return (
    <span className={`chip${current ? ' chip-current' : ''}`}>
      <span className="muted">{run.kind}</span>{' '}
      {current ? <strong>{runLabel(run)}</strong> : <Link to={`/runs/${run.id}`}>{runLabel(run)}</Link>} <StatusBadge status={run.status} />
    </span>
  );
}

export function Lineage({ run }: { run: Run }) {
  const api = useApi();
  const parent = useQuery({
    queryKey: ['run', run.source?.runId, 'row'],
    queryFn: () => api.run(run.source!.runId!),
    enabled: !!run.source?.runId,
  });
  const grandparent = useQuery({
    queryKey: ['run', parent.data?.source?.runId, 'row'],
    queryFn: () => api.run(parent.data!.source!.runId!),
    enabled: !!parent.data?.source?.runId,
  });
  const children = useQuery({
    queryKey: ['run', run.id, 'children'],
    queryFn: () => api.runs({ sourceRunId: run.id, limit: 50 }),
    refetchInterval: 10_000,
  });
  const kids = children.data?.runs ?? [];
  const grandkids = useQueries({
    queries: kids.map((k) => ({ queryKey: ['run', k.id, 'children'], queryFn: () => api.runs({ sourceRunId: k.id, limit: 50 }) })),
  });
  const ancestors = [grandparent.data, parent.data].filter((r): r is Run => !!r);
  return (
    <div className="lineage" data-testid="lineage">
      <ol className="lineage-chain" aria-label="Source chain">
        {ancestors.map((a) => (
          <li key={a.id}>
            <RunChip run={a} />
          </li>
        ))}
        {run.source && !run.source.runId && (
          <li>
            <span className="chip">
              imported <code>{run.source.uri}</code>
            </span>
          </li>
        )}
        <li>
          <RunChip run={run} current />
        </li>
      </ol>
      {kids.length > 0 ? (
        <ul className="lineage-tree" aria-label="Runs made from this run">
          {kids.map((k, i) => (
            <li key={k.id}>
              <RunChip run={k} />
              {(grandkids[i]?.data?.runs.length ?? 0) > 0 && (
                <ul>
                  {grandkids[i].data!.runs.map((g) => (
                    <li key={g.id}>
                      <RunChip run={g} />
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No runs were made from this one yet.</p>
      )}
    </div>
  );
}
