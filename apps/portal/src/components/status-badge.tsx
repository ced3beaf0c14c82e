import type { RunStatus } from '@cim-forge/client';

export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {status}
    </span>
  );
}
