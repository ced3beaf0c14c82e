/**
 * POST /v1/sweeps: the base run goes through the run submission path (submitRun with validateOnly:
 * resolution, source pinning, the resource estimate and its refusal), libs/sweep plans the trials
 * (refusals name the field), and every trial's config goes through the same path again, so a trial
 * the run API would refuse is refused here, before anything is written. Then one transaction: the
 * team's quota (as a run submission: the first wave of trials must fit), the sweeps row and its
 * sweep_trials rows. The sweep driver (apps/worker sweep-driver.ts) launches the trials as runs.
 */
import { toJsonValue, type Prisma } from '@cim-forge/db';
import {
  SweepSpecError,
  applyParams,
  resolveSweep,
  rungSlots,
  stopAtStepFor,
  type ResolvedSweep,
  type SweepBaseConfig,
} from '@cim-forge/sweep';
import { badRequest, forbidden } from '../http-error.ts';
import type { Services } from '../plugins/services.ts';
import type { Principal } from '../principal.ts';
import type { SubmitRunBody } from '../schemas/run.ts';
import type { SubmitSweepBody, ValidatedSweep } from '../schemas/sweep.ts';
import { submitRun } from '../runs/submit-run.ts';
import { readFlopRate } from '../runs/queue-estimate.ts';
import { checkTeamQuota, lockTeam, type DefaultQuotas } from '../runs/team-quota.ts';

/** what the driver needs to launch trial i as a run, stored in sweeps.spec */
export interface StoredTrial {
  index: number;
  params: Record<string, number | string | boolean | null>;
  /** the trial's resolved config without stopAtStep (the driver sets it per rung) */
  config: Record<string, unknown>;
  plan: unknown;
  resources: unknown;
}

export interface SweepSpec {
  space: ResolvedSweep['space'];
  algorithm: ResolvedSweep['algorithm'];
  metric: ResolvedSweep['metric'];
  maxTrials: number;
  maxConcurrent: number;
  totalSteps: number | null;
  rungs: number[];
  notes: string[];
  worldSize: number;
  preset: string | null;
  maxRestarts: number;
  sourceCheckpointId: string | null;
  /** the API's quotas for a team with none of its own: the driver holds a trial back over them */
  defaultQuotas: DefaultQuotas;
  trials: StoredTrial[];
}

type Validated = Extract<Awaited<ReturnType<typeof submitRun>>, { validated: unknown }>['validated'];

async function validateRun(svc: Services, principal: Principal, body: SubmitRunBody, what: string): Promise<Validated> {
  try {
    const out = await submitRun(svc, principal, { ...body, validateOnly: true }, undefined);
    if (!('validated' in out)) throw new Error('validateOnly made a run');
    return out.validated;
  } catch (e) {
    // the run path names fields from the run body's root: say they are the base's (or a trial's)
    if (e instanceof Error && 'statusCode' in e) e.message = `${what}: ${e.message.replace(/^body\//, '')}`;
    throw e;
  }
}

export type SweepOutcome = { statusCode: 201; sweepId: string } | { statusCode: 200; validated: ValidatedSweep };

export async function submitSweep(svc: Services, principal: Principal, body: SubmitSweepBody): Promise<SweepOutcome> {
  const teamId = principal.teamId;
  if (teamId === null) throw forbidden('sweeps belong to a team: submit with a team token (this admin token has no team)');
  const { base } = body;
  if (base.kind !== 'pretrain' && base.kind !== 'finetune')
    throw badRequest(`body/base/kind: a sweep's base is a pretrain or finetune run, got ${base.kind}`);
  const baseBody: SubmitRunBody = { ...base, priority: body.priority ?? 0 };
  const resolvedBase = await validateRun(svc, principal, baseBody, 'body/base');

  const resolve = (length: { totalSteps: number | null; stepsPerEpoch: number | null }) => {
    try {
      return resolveSweep(base.kind as 'pretrain' | 'finetune', resolvedBase.config as unknown as SweepBaseConfig, body, {
        totalSteps: length.totalSteps ?? undefined,
        stepsPerEpoch: length.stepsPerEpoch ?? undefined,
      });
    } catch (e) {
      if (e instanceof SweepSpecError) throw badRequest(`body/${e.field}: ${e.reason}`);
      throw e;
    }
  };
  let plan: ResolvedSweep = resolve(resolvedBase.plan);
  // libs/sweep may change the base (a validation split for a val_ metric): the rungs are steps of
  // the base the trials really run, so its length is taken from that base's own plan
  const trialBase = await validateRun(
    svc,
    principal,
    { ...baseBody, config: plan.baseConfig as unknown as SubmitRunBody['config'] },
    'body/base (as the trials run it)',
  );
  if (trialBase.plan.totalSteps !== resolvedBase.plan.totalSteps || trialBase.plan.stepsPerEpoch !== resolvedBase.plan.stepsPerEpoch) {
    plan = resolve(trialBase.plan);
  }

  // every trial through the run path: its config as the run API would store it, its plan and estimate
  const trials: StoredTrial[] = [];
  for (const t of plan.trials) {
    const config = applyParams(plan.baseConfig, t.params) as unknown as Record<string, unknown>;
    // the full resolved config as the submitted fields: resolving it again gives itself
    const v = await validateRun(
      svc,
      principal,
      { ...baseBody, config: config as SubmitRunBody['config'] },
      `body/space (trial ${t.index} ${JSON.stringify(t.params)})`,
    );
    trials.push({ index: t.index, params: t.params, config: v.config, plan: v.plan, resources: v.resources });
  }

  const { reach } = rungSlots(plan);
  const rungs = plan.rungs;
  const stepsAt = (k: number) => rungs[k] ?? trialBase.plan.totalSteps ?? 0;
  // every trial runs to rung 0; reach[k] of them go on from rung k-1 to rung k
  const stepsExpected = reach.reduce((sum, n, k) => sum + n * (stepsAt(k) - (k > 0 ? stepsAt(k - 1) : 0)), 0);
  const steps = plan.trials.length * stepsAt(Math.max(0, rungs.length - 1));

  if (body.validateOnly) {
    return {
      statusCode: 200,
      validated: {
        valid: true,
        kind: base.kind,
        rungs,
        totalSteps: plan.totalSteps,
        algorithm: { ...plan.algorithm },
        trials: plan.trials.map((t) => ({ index: t.index, params: t.params, stopAtStep: stopAtStepFor(plan, 0) })),
        notes: plan.notes,
        plan: trialBase.plan,
        resources: trialBase.resources,
        estimate: await sweepEstimate(svc, base.kind, steps, stepsExpected, trialBase.resources.flopsPerStep),
      },
    };
  }

  const spec: SweepSpec = {
    space: plan.space,
    algorithm: plan.algorithm,
    metric: plan.metric,
    maxTrials: plan.maxTrials,
    maxConcurrent: plan.maxConcurrent,
    totalSteps: plan.totalSteps,
    rungs,
    notes: plan.notes,
    worldSize: resolvedBase.worldSize,
    preset: base.preset ?? null,
    maxRestarts: base.maxRestarts ?? 3,
    sourceCheckpointId: resolvedBase.source?.checkpointId ?? null,
    defaultQuotas: svc.defaultQuotas,
    trials,
  };
  const priority = body.priority ?? 0;
  const sweepId = await svc.db.$transaction(
    async (tx) => {
      await lockTeam(tx, teamId);
      // the sweep's first trial is a run submission of this team: refused (403/429) as one would be
      await checkTeamQuota(tx, teamId, resolvedBase.worldSize, priority, svc.defaultQuotas);
      const sweep = await tx.sweep.create({
        data: {
          teamId,
          name: body.name,
          kind: base.kind,
          base: toJsonValue(base),
          spec: toJsonValue(spec) as Prisma.InputJsonValue,
          priority,
        },
        select: { id: true },
      });
      await tx.sweepTrial.createMany({
        data: plan.trials.map((t) => ({ sweepId: sweep.id, index: t.index, params: toJsonValue(t.params) })),
      });
      return sweep.id;
    },
    { maxWait: 15_000, timeout: 30_000 },
  );
  return { statusCode: 201, sweepId };
}

/** the sweep's cost: FLOPs from the resource model, seconds (one trial at a time) at the FLOP rate this kind's recent runs achieved */
async function sweepEstimate(svc: Services, kind: string, steps: number, stepsExpected: number, flopsPerStep: number) {
  const flops = stepsExpected * flopsPerStep;
  const rate = await readFlopRate(svc.db, kind);
  return { steps, stepsExpected, flops, seconds: rate === null ? null : Math.round(flops / rate) };
}
