import type { RunStatus } from '../api/types.ts';

export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {status}
    </span>
  );
}
