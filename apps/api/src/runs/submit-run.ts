/**
 * POST /v1/runs: check, resolve, then (one transaction) the QUEUED row and its "run.queued" event
 * (libs/db run-lifecycle.ts queueRun), then the BullMQ job. An Idempotency-Key returns the run it first made (the unique
 * (team_id, idempotency_key) index settles a race between two identical requests).
 */
import { failRun, queueRun, toJsonValue } from '@cim-forge/db';
import { enqueueRun, liveWorkerCount } from '@cim-forge/queue';
import type { Services } from '../plugins/services.ts';
import type { Principal } from '../principal.ts';
import { badRequest, forbidden, unavailable, unprocessable } from '../http-error.ts';
import type { ResourceEstimate, RunPlan } from '@cim-forge/config';
import { isUniqueViolation } from '../prisma-errors.ts';
import type { Run, SubmitRunBody } from '../schemas/run.ts';
import { resolveRunConfig } from './run-config.ts';
import { runInclude, toRunResource, type RunRow } from './run-resource.ts';
import { resolveSource, type ResolvedSource } from './run-source.ts';
import { planAndEstimate } from './run-resources.ts';
import { checkTeamQuota, lockTeam, withTeamGate } from './team-quota.ts';
import { requestFingerprint } from './request-fingerprint.ts';

/** how long a BullMQ add may take before the run is failed with 503, ms */
const ENQUEUE_TIMEOUT_MS = 5000;

export type SubmitOutcome =
  | { statusCode: 201 | 200; run: Run }
  | {
      statusCode: 200;
      validated: {
        valid: true; kind: SubmitRunBody['kind']; worldSize: number; config: Record<string, unknown>; plan: RunPlan; resources: ResourceEstimate;
        source?: ResolvedSource & { encoder?: 'online' | 'target' };
      };
    };

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** the run a reused Idempotency-Key made — only for the same request; another body is a 422 */
function replayed(existing: RunRow, fingerprint: string, key: string): SubmitOutcome {
  if (existing.idempotencyHash !== null && existing.idempotencyHash !== fingerprint) {
    throw unprocessable(`Idempotency-Key "${key}" was used for run ${existing.id} with a different request body; use a new key for a different run`);
  }
  return { statusCode: 200, run: toRunResource(existing) };
}

export async function submitRun(svc: Services, principal: Principal, body: SubmitRunBody, idempotencyKey: string | undefined): Promise<SubmitOutcome> {
  const { db } = svc;
  const teamId = principal.teamId;
  if (teamId === null) throw forbidden('runs belong to a team: submit with a team token (this admin token has no team)');

  const fingerprint = requestFingerprint(body);
  if (idempotencyKey !== undefined && !body.validateOnly) {
    const existing = await db.run.findFirst({ where: { teamId, idempotencyKey }, include: runInclude });
    if (existing) return replayed(existing, fingerprint, idempotencyKey);
  }

  const worldSize = body.worldSize ?? 1;
  if (body.kind !== 'pretrain' && worldSize !== 1) throw badRequest(`body/worldSize must be 1 for ${body.kind} runs, got ${worldSize}`);
  if (body.kind === 'pretrain' && body.source !== undefined) throw badRequest('body/source is not accepted for pretrain runs');
  if (body.kind !== 'pretrain' && body.source === undefined) throw badRequest(`body/source is required for ${body.kind} runs`);

  // a gang larger than every worker up now would never assemble (and hold workers each time it tried)
  const capacity = await liveWorkerCount(svc.redis, svc.queuePrefix);
  if (capacity > 0 && worldSize > capacity) {
    throw badRequest(`body/worldSize ${worldSize} is more than the ${capacity} workers registered now: a gang of ${worldSize} ranks could never assemble`);
  }

  // a team over its quota is refused before the costly part (config, source, plan); the check that counts is the locked one below
  if (!body.validateOnly) await checkTeamQuota(db, teamId, worldSize, body.priority ?? 0, svc.defaultQuotas);

  const config = resolveRunConfig({ kind: body.kind, preset: body.preset, config: body.config, encoder: body.encoder });
  const source = body.source ? await resolveSource({ db, s3: svc.s3, teamId, write: !body.validateOnly }, body.source) : undefined;
  const { plan, resources } = await planAndEstimate(db, body.kind, config, worldSize, source?.runId ?? null, svc.workerMemoryBytes);

  if (body.validateOnly) {
    const encoder = 'encoder' in config ? { encoder: config.encoder } : {};
    return {
      statusCode: 200,
      validated: { valid: true, kind: body.kind, worldSize, config: { ...config }, plan, resources, ...(source ? { source: { ...source, ...encoder } } : {}) },
    };
  }

  const priority = body.priority ?? 0;
  let runId: string;
  try {
    // the quota is counted and the run inserted under the team's row lock: no two submissions pass the last slot
    // (one at a time per team in this process first: waiters do not hold pooled connections)
    runId = await withTeamGate(teamId, () => db.$transaction(async (tx) => {
      await lockTeam(tx, teamId);
      await checkTeamQuota(tx, teamId, worldSize, priority, svc.defaultQuotas);
      return queueRun(
      tx,
      {
        teamId,
        kind: body.kind,
        name: body.name ?? null,
        preset: body.preset ?? null,
        config: toJsonValue(config),
        worldSize,
        priority,
        maxRestarts: body.maxRestarts ?? 3,
        sourceCheckpointId: source?.checkpointId ?? null,
        idempotencyKey: idempotencyKey ?? null,
        idempotencyHash: idempotencyKey !== undefined ? fingerprint : null,
        plan: toJsonValue(plan),
        resources: toJsonValue(resources),
        queuedAt: new Date(),
      },
      `queued by ${principal.tokenPrefix}: ${body.kind}${body.preset ? ` (${body.preset})` : ''}, ${worldSize} rank(s), priority ${priority}`,
      { kind: body.kind, preset: body.preset ?? null, worldSize, priority, sourceCheckpointId: source?.checkpointId ?? null },
      );
      // a busy team's submissions queue on its lock: wait for the connection and the lock longer than Prisma's 2 s / 5 s
    }, { maxWait: 15_000, timeout: 30_000 }));
  } catch (err) {
    if (idempotencyKey !== undefined && isUniqueViolation(err)) {
      const existing = await db.run.findFirst({ where: { teamId, idempotencyKey }, include: runInclude });
      if (existing) return replayed(existing, fingerprint, idempotencyKey);
    }
    throw err;
  }

  try {
    await withTimeout(enqueueRun(svc.runsQueue, runId, priority), ENQUEUE_TIMEOUT_MS, 'enqueue');
  } catch (err) {
    // the run's error and the body say what failed, not the driver's message (it names Redis's host:port): that is logged
    const reason = 'could not enqueue: the queue did not take the job; submit again';
    await db.$transaction((tx) => failRun(tx, runId, { category: 'infra', error: reason, from: ['QUEUED'] }));
    throw unavailable(`run ${runId} ${reason}`, err);
  }

  const run = await db.run.findUniqueOrThrow({ where: { id: runId }, include: runInclude });
  return { statusCode: 201, run: toRunResource(run) };
}
