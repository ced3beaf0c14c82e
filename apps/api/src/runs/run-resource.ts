/** A runs row (with its pinned source checkpoint) as the API's run resource. */
import type { Prisma } from '@cim-forge/db';
import type { Run } from '../schemas/run.ts';

/** the include every run read uses, so the resource can show its source */
export const runInclude = {
  sourceCheckpoint: { select: { id: true, runId: true, step: true, uri: true } },
} as const satisfies Prisma.RunInclude;

export type RunRow = Prisma.RunGetPayload<{ include: typeof runInclude }>;

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function toRunResource(r: RunRow): Run {
  const s = r.sourceCheckpoint;
  return {
    id: r.id,
    teamId: r.teamId,
    kind: r.kind,
    status: r.status,
    name: r.name,
    preset: r.preset,
    config: r.config as Record<string, unknown>,
    worldSize: r.worldSize,
    priority: r.priority,
    maxRestarts: r.maxRestarts,
    infraRestarts: r.infraRestarts,
    userRestarts: r.userRestarts,
    error: r.error,
    source: s ? { checkpointId: s.id, runId: s.runId, step: s.step, uri: s.uri } : null,
    plan: (r.plan ?? null) as Run['plan'],
    resources: (r.resources ?? null) as Run['resources'],
    sweepId: r.sweepId,
    trialIndex: r.trialIndex,
    createdAt: r.createdAt.toISOString(),
    queuedAt: iso(r.queuedAt),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    updatedAt: r.updatedAt.toISOString(),
  };
}
