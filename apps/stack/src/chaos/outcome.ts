/** The checks most scenarios end with: the run SUCCEEDED, at the last step, with the reference run's weights. */
import { CHAOS_TOTAL_STEPS, type Checks, type Harness } from './harness.ts';

export async function finishedLikeReference(h: Harness, id: string, c: Checks): Promise<void> {
  const run = await h.waitForEnd(id);
  c.that(run.status === 'SUCCEEDED', `${run.status}${run.error ? ` (${run.error})` : ''}`);
  if (run.status !== 'SUCCEEDED') return;
  const { step, relErr } = await h.errorVsReference(id);
  c.that(step === CHAOS_TOTAL_STEPS && relErr <= 1e-6, `final step ${step}, weights vs uninterrupted rel. err ${relErr.toExponential(1)}`);
}

/** every attempt has exactly worldSize rank rows (a rank never started twice) */
export async function oneRowPerRank(h: Harness, id: string, c: Checks, worldSize = 2): Promise<number> {
  const rows = await h.attempts(id);
  const perAttempt = new Map<number, number>();
  for (const r of rows) perAttempt.set(r.attempt, (perAttempt.get(r.attempt) ?? 0) + 1);
  const ok = [...perAttempt.values()].every((n) => n === worldSize);
  c.that(ok, `${perAttempt.size} attempt(s), ${worldSize} rank rows each`);
  return perAttempt.size;
}
