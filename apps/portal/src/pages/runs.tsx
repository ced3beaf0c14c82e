/**
 * Runs: filter (status, kind, name), sort, pages, best and last loss; every bit of state is in
 * the URL (?status=&kind=&name=&sort=&dir=&c=<cursor>…), so a link opens the same view.
 */
import { useMemo, useState, useEffect } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import {
  createColumnHelper,
  flexRender,
  getCoreRowModel,
  getSortedRowModel,
  useReactTable,
  type SortingState,
} from '@tanstack/react-table';
import { RUN_KINDS, RUN_STATUSES, type Run } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { Link, useRouter, useSearchState } from '../routing.tsx';
import { StatusBadge } from '../components/status-badge.tsx';
import { fmtDuration, fmtNumber, fmtTime, shortId } from '../lib/format.ts';
import { useLossSummaries, type LossSummary } from '../loss-summary.ts';

export const PAGE_SIZE = 20;

type Row = Run & LossSummary;
const col = createColumnHelper<Row>();

export function RunsPage() {
  const api = useApi();
  const { navigate } = useRouter();
  const { params, set } = useSearchState();
  const status = params.get('status') ?? '';
  const kind = params.get('kind') ?? '';
  const name = params.get('name') ?? '';
  const cursors = params.getAll('c');
  const cursor = cursors[cursors.length - 1];
  const sorting: SortingState = params.get('sort') ? [{ id: params.get('sort')!, desc: params.get('dir') !== 'asc' }] : [];
  const [nameDraft, setNameDraft] = useState(name);
  useEffect(() => setNameDraft(name), [name]);
  // the name filter follows typing, a moment after the last key
  useEffect(() => {
    if (nameDraft === name) return;
    const t = setTimeout(() => set({ name: nameDraft, c: null }), 300);
    return () => clearTimeout(t);
  }, [nameDraft, name, set]);
  const [selected, setSelected] = useState<string[]>([]);

  const list = useQuery({
    queryKey: ['runs', { status, kind, name, cursor }],
    queryFn: () => api.runs({ status, kind, name, cursor, limit: PAGE_SIZE }),
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  });
  const runs = list.data?.runs ?? [];
  const losses = useLossSummaries(
    api,
    runs.map((r) => r.id),
  );
  const data: Row[] = useMemo(() => runs.map((r) => ({ ...r, ...(losses.get(r.id) ?? { best: null, last: null }) })), [runs, losses]);

  const columns = useMemo(
    () => [
      col.display({
        id: 'select',
        header: () => <span className="sr-only">Select for compare</span>,
        cell: ({ row }) => (
          <input
            type="checkbox"
            aria-label={`Select ${row.original.name ?? shortId(row.original.id)} for compare`}
            checked={selected.includes(row.original.id)}
            onChange={(e) =>
              setSelected((s) => (e.target.checked ? [...s, row.original.id].slice(-8) : s.filter((x) => x !== row.original.id)))
            }
          />
        ),
      }),
      col.accessor((r) => r.name ?? '', {
        id: 'name',
        header: 'Run',
        cell: ({ row }) => (
          <Link to={`/runs/${row.original.id}`} className="run-link">
            {row.original.name ?? <span className="muted">unnamed</span>} <code className="muted">{shortId(row.original.id)}</code>
          </Link>
        ),
      }),
      col.accessor('kind', { header: 'Kind' }),
      col.accessor('status', { header: 'Status', cell: (c) => <StatusBadge status={c.getValue()} /> }),
      col.accessor((r) => r.preset ?? '', { id: 'preset', header: 'Preset' }),
      col.accessor('worldSize', { header: 'Ranks', cell: (c) => <span className="num">{c.getValue()}</span> }),
      col.accessor('createdAt', { header: 'Created', cell: (c) => fmtTime(c.getValue()) }),
      col.accessor((r) => (r.startedAt ? (r.finishedAt ? Date.parse(r.finishedAt) : Date.now()) - Date.parse(r.startedAt) : -1), {
        id: 'duration',
        header: 'Duration',
        cell: ({ row }) => fmtDuration(row.original.startedAt, row.original.finishedAt),
      }),
      col.accessor((r) => r.best ?? Number.POSITIVE_INFINITY, {
        id: 'best',
        header: 'Best loss',
        cell: ({ row }) => <span className="num">{fmtNumber(row.original.best)}</span>,
      }),
      col.accessor((r) => r.last ?? Number.POSITIVE_INFINITY, {
        id: 'last',
        header: 'Last loss',
        cell: ({ row }) => <span className="num">{fmtNumber(row.original.last)}</span>,
      }),
    ],
    [selected],
  );

  const table = useReactTable({
    data,
    columns,
    state: { sorting },
    onSortingChange: (updater) => {
      const next = typeof updater === 'function' ? updater(sorting) : updater;
      set({ sort: next[0]?.id ?? null, dir: next[0] ? (next[0].desc ? 'desc' : 'asc') : null });
    },
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    // paging is the API's (cursors): the table never resets a page index of its own
    autoResetPageIndex: false,
  });

  return (
    <main>
      <div className="page-head">
        <h1>Runs</h1>
        <div className="actions">
          <button
            type="button"
            disabled={selected.length < 2}
            onClick={() => navigate(`/compare?${selected.map((id) => `run=${id}`).join('&')}`)}
          >
            Compare selected ({selected.length})
          </button>
          <Link to="/submit" className="button primary">
            New run
          </Link>
        </div>
      </div>
      <form className="filters" role="search" aria-label="Filter runs" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status} onChange={(e) => set({ status: e.target.value, c: null })}>
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => set({ kind: e.target.value, c: null })}>
            <option value="">any</option>
            {RUN_KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input type="search" value={nameDraft} placeholder="contains…" onChange={(e) => setNameDraft(e.target.value)} />
        </label>
        {(status || kind || name) && (
          <button type="button" className="ghost" onClick={() => set({ status: null, kind: null, name: null, c: null })}>
            Clear filters
          </button>
        )}
      </form>
      {list.error && (
        <p role="alert" className="error">
          {(list.error as Error).message}
        </p>
      )}
      <table className="table" data-testid="runs-table">
        <thead>
          {table.getHeaderGroups().map((hg) => (
            <tr key={hg.id}>
              {hg.headers.map((h) => {
                const sortable = h.column.id !== 'select';
                const dir = h.column.getIsSorted();
                return (
                  <th key={h.id} aria-sort={dir === 'asc' ? 'ascending' : dir === 'desc' ? 'descending' : undefined}>
                    {sortable ? (
                      <button type="button" className="th-sort" onClick={h.column.getToggleSortingHandler()}>
                        {flexRender(h.column.columnDef.header, h.getContext())}
                        <span aria-hidden="true">{dir === 'asc' ? ' ▲' : dir === 'desc' ? ' ▼' : ''}</span>
                      </button>
                    ) : (
                      flexRender(h.column.columnDef.header, h.getContext())
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((r) => (
            <tr key={r.id} data-run-id={r.original.id}>
              {r.getVisibleCells().map((c) => (
                <td key={c.id}>{flexRender(c.column.columnDef.cell, c.getContext())}</td>
              ))}
            </tr>
          ))}
          {!list.isLoading && runs.length === 0 && (
            <tr>
              <td colSpan={columns.length} className="muted empty">
                No runs match. <Link to="/submit">Submit one</Link>.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => set({ c: cursors.slice(0, -1) }, { push: true })}>
          ← Previous
        </button>
        <span className="muted">Page {cursors.length + 1}</span>
        <button
          type="button"
          disabled={!list.data?.nextCursor}
          onClick={() => set({ c: [...cursors, list.data!.nextCursor!] }, { push: true })}
        >
          Next →
        </button>
      </div>
    </main>
  );
}
