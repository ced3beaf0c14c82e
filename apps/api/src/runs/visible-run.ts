/**
 * A run the caller may see: any run for an admin, only its own team's for a team token. Another
 * team's run is "not found" (404), never "forbidden", so ids do not leak.
 */
import type { Db, Prisma } from '@cim-forge/db';
import { notFound } from '../http-error.ts';
import type { Principal } from '../principal.ts';
import { runInclude, type RunRow } from './run-resource.ts';

export function visibleRunsWhere(p: Principal): Prisma.RunWhereInput {
  return p.admin ? {} : { teamId: p.teamId ?? '00000000-0000-0000-0000-000000000000' };
}

export async function findVisibleRun(db: Db, p: Principal, id: string): Promise<RunRow> {
  const run = await db.run.findFirst({ where: { id, ...visibleRunsWhere(p) }, include: runInclude });
  if (!run) throw notFound(`run ${id} not found`);
  return run;
}

/** the same check without loading the row's config (metrics, events, checkpoints) */
export async function assertVisibleRun(db: Db, p: Principal, id: string): Promise<{ id: string; sourceCheckpointId: string | null }> {
  const run = await db.run.findFirst({ where: { id, ...visibleRunsWhere(p) }, select: { id: true, sourceCheckpointId: true } });
  if (!run) throw notFound(`run ${id} not found`);
  return run;
}
