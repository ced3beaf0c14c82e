/** Picks up to `max` runs from the team's recent ones (for Compare and Correlation maps). */
import { useQuery } from '@tanstack/react-query';
import type { RunKind } from '@cim-forge/client';
import { useApi } from '../api-context.tsx';
import { runLabel } from '../lib/format.ts';

export function RunPicker({
  selected,
  onChange,
  max,
  kind,
  label,
}: {
  selected: string[];
  onChange(ids: string[]): void;
  max: number;
  kind?: RunKind;
  label: string;
}) {
  const api = useApi();
  const runs = useQuery({ queryKey: ['runs', { kind, picker: true }], queryFn: () => api.runs({ kind, limit: 100 }) });
  const options = (runs.data?.runs ?? []).filter((r) => !selected.includes(r.id));
  return (
    <label className="picker">
      {label}
      <select
        value=""
        disabled={selected.length >= max}
        onChange={(e) => {
          if (e.target.value) onChange([...selected, e.target.value].slice(0, max));
        }}
      >
        <option value="">{selected.length >= max ? `at most ${max}` : 'add a run…'}</option>
        {options.map((r) => (
          <option key={r.id} value={r.id}>
            {runLabel(r)} · {r.kind} · {r.status}
          </option>
        ))}
      </select>
    </label>
  );
}
