/**
 * Messages on the cancel channel (libs/queue CANCEL_CHANNEL): "<runId>" — the run was cancelled,
 * kill every rank of it; "<runId>:<attempt>" — the controller stops that gang attempt (and any
 * earlier one) because one of its ranks failed.
 */
export function stopMessage(runId: string, attempt?: number): string {
  return attempt === undefined ? runId : `${runId}:${attempt}`;
}

export function parseStopMessage(msg: string): { runId: string; attempt?: number } {
  const i = msg.lastIndexOf(':');
  if (i < 0) return { runId: msg };
  const attempt = Number(msg.slice(i + 1));
  return Number.isInteger(attempt) ? { runId: msg.slice(0, i), attempt } : { runId: msg };
}
