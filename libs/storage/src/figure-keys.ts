/** Where a run's correlation-map figures live in the bucket: runs/<run>/figures/<figure>.png, and an upload's input beside it. */
export function figurePngKey(runId: string, figureId: string): string {
  return `runs/${runId}/figures/${figureId}.png`;
}

export function figureInputKey(runId: string, figureId: string, format: 'png' | 'jpeg'): string {
  return `runs/${runId}/figures/${figureId}.input.${format === 'png' ? 'png' : 'jpg'}`;
}
