/**
 * The sweep driver (issue 22), beside the run controller: it moves every RUNNING sweep forward,
 * one step at a time, from its rows in Postgres. A step, in one transaction holding the sweep's
 * row (`FOR UPDATE SKIP LOCKED`: two drivers never step one sweep at once):
 *
 *   1. each running trial whose run ended is read back: PAUSED (at its rung's stopAtStep) or
 *      SUCCEEDED (the whole run) → paused, with the metric at that rung from the run's recorded
 *      metrics; FAILED / CANCELLED → failed / cancelled with the run's error;
 *   2. libs/sweep's decide() says what to do now: stop (the PAUSED run is CANCELLED, the reason
 *      recorded), promote, complete (a PAUSED run at the last rung SUCCEEDS), start (a pending
 *      trial becomes a QUEUED run with the sweep's stored config and stopAtStep = its rung's
 *      budget; a promoted one is the SAME run moved PAUSED → QUEUED with the next rung's
 *      stopAtStep, which resumes from its checkpoint);
 *   3. once every trial has ended, the sweep SUCCEEDS (FAILS if no trial reported a metric).
 *
 * Run jobs are enqueued after the commit; a step also re-enqueues every running trial whose run is
 * still QUEUED (job ids are the run's: a duplicate add is a no-op), so a driver that died between
 * the commit and the enqueue loses nothing. A trial's run is made in the transaction that records
 * it on the trial, and runs (sweep_id, trial_index) is unique: no trial is ever started twice.
 */
import type { Queue } from 'bullmq';
import {
  DEFAULT_QUOTAS,
  cancelRun,
  finishPausedRun,
  lockTeam,
  queueRun,
  teamQuotaShortfall,
  resumeRun,
  toJsonValue,
  type Db,
  type DbClient,
  type DefaultQuotas,
  type Prisma,
  type Sweep,
  type SweepTrial,
} from '@cim-forge/db';
import type { TrialState } from '@cim-forge/config';
import { enqueueRun, type RunJobData } from '@cim-forge/queue';
import { decide, sweepFinished, type ResolvedSweep, type TrialReport } from '@cim-forge/sweep';

/** what POST /v1/sweeps stored in sweeps.spec (apps/api sweeps/submit-sweep.ts SweepSpec) */
export interface StoredSweepSpec extends Pick<
  ResolvedSweep,
  'space' | 'algorithm' | 'metric' | 'maxTrials' | 'maxConcurrent' | 'totalSteps' | 'rungs'
> {
  worldSize: number;
  preset: string | null;
  maxRestarts: number;
  sourceCheckpointId: string | null;
  /** the API's quotas for a team with none of its own, when the sweep was submitted (older sweeps: DEFAULT_QUOTAS) */
  defaultQuotas?: DefaultQuotas;
  trials: {
    index: number;
    params: Record<string, number | string | boolean | null>;
    config: Record<string, unknown>;
    plan: unknown;
    resources: unknown;
  }[];
}

export interface SweepDriverOptions {
  db: Db;
  runsQueue: Queue<RunJobData>;
  /** ms between steps of every running sweep */
  pollMs?: number;
  log?(msg: string, fields?: Record<string, unknown>): void;
  /** a trial was stopped at a rung */
  onEarlyStop?(sweep: Pick<Sweep, 'id' | 'teamId'>): void;
  onSweepFinished?(sweep: Pick<Sweep, 'id' | 'teamId' | 'status'>): void;
}

type RunRow = { id: string; status: string; error: string | null; config: Prisma.JsonValue };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the value of `name` at or before `step` (the last one recorded there), run-level series */
async function metricAtStep(db: DbClient, runId: string, name: string, step: number | null): Promise<number | null> {
  const rows = await db.metric.findMany({
    where: { runId, name, rank: null, ...(step === null ? {} : { step: { lte: step } }) },
    orderBy: { step: 'desc' },
    take: 1,
    select: { value: true },
  });
  const v = rows[0]?.value;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export class SweepDriver {
  private closed = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: SweepDriverOptions) {}

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.o.log?.(msg, fields);
  }

  start(): void {
    this.loop = (async () => {
      while (!this.closed) {
        try {
          await this.stepAll();
        } catch (e) {
          this.log(`sweep driver: ${(e as Error).message.trim().split('\n').at(-1)}; retrying`);
        }
        await sleep(this.o.pollMs ?? 1000);
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loop;
  }

  async stepAll(): Promise<void> {
    const sweeps = await this.o.db.sweep.findMany({ where: { status: 'RUNNING' }, select: { id: true }, orderBy: { createdAt: 'asc' } });
    for (const s of sweeps) {
      if (this.closed) return;
      await this.step(s.id);
    }
  }

  /** One step of one sweep (see the file's comment); safe to repeat, safe beside another driver. */
  async step(sweepId: string): Promise<void> {
    const { db } = this.o;
    const enqueue: { runId: string; priority: number }[] = [];
    let earlyStops = 0;
    let teamId = '';
    const done = await db.$transaction(
      async (tx) => {
        const locked = await tx.$queryRaw<{ id: string }[]>`
          SELECT id FROM sweeps WHERE id = ${sweepId}::uuid AND status = 'RUNNING' FOR UPDATE SKIP LOCKED`;
        if (locked.length === 0) return undefined;
        const sweep = await tx.sweep.findUniqueOrThrow({ where: { id: sweepId }, include: { trials: { orderBy: { index: 'asc' } } } });
        const spec = sweep.spec as unknown as StoredSweepSpec;
        teamId = sweep.teamId;
        const runs = new Map<string, RunRow>(
          (await tx.run.findMany({ where: { sweepId }, select: { id: true, status: true, error: true, config: true } })).map((r) => [
            r.id,
            r,
          ]),
        );
        const trials = new Map<number, SweepTrial>(sweep.trials.map((t) => [t.index, t]));
        const save = async (
          t: SweepTrial,
          data: Partial<Pick<SweepTrial, 'state' | 'rung' | 'runId' | 'stopReason'>> & { rungMetrics?: (number | null)[] },
        ) => {
          const next = await tx.sweepTrial.update({
            where: { sweepId_index: { sweepId, index: t.index } },
            data: { ...data, ...(data.rungMetrics ? { rungMetrics: toJsonValue(data.rungMetrics) } : {}) },
          });
          trials.set(t.index, next);
        };

        // 1. read back the trials whose run ended
        for (const t of trials.values()) {
          if (t.state !== 'running' || t.runId === null) continue;
          const run = runs.get(t.runId);
          if (!run) continue;
          if (run.status === 'QUEUED') enqueue.push({ runId: run.id, priority: sweep.priority });
          if (run.status === 'PAUSED' || run.status === 'SUCCEEDED') {
            // a run that SUCCEEDED ran its whole length: it has reached the last rung, whichever it ran to
            const rung = run.status === 'SUCCEEDED' ? Math.max(t.rung, spec.rungs.length - 1) : t.rung;
            const value = await metricAtStep(tx, run.id, spec.metric.name, run.status === 'SUCCEEDED' ? null : (spec.rungs[rung] ?? null));
            const rungMetrics = [...(t.rungMetrics as (number | null)[])];
            while (rungMetrics.length <= rung) rungMetrics.push(null);
            rungMetrics[rung] = value;
            await save(t, { state: 'paused', rung, rungMetrics });
          } else if (run.status === 'FAILED' || run.status === 'CANCELLED') {
            await save(t, {
              state: run.status === 'FAILED' ? 'failed' : 'cancelled',
              stopReason: `run ${run.status}: ${run.error ?? 'no reason'}`,
            });
          }
        }

        // 2. decide and apply
        const reports: TrialReport[] = [...trials.values()]
          .filter((t) => t.state !== 'pending')
          .map((t) => ({
            index: t.index,
            state: t.state as TrialState,
            rung: Math.max(0, t.rung),
            rungMetrics: t.rungMetrics as (number | null)[],
          }));
        const plan = {
          algorithm: spec.algorithm,
          metric: spec.metric,
          rungs: spec.rungs,
          totalSteps: spec.totalSteps,
          trials: spec.trials.map((t) => ({ index: t.index, params: t.params })),
          maxConcurrent: spec.maxConcurrent,
        };
        let quotaChecked = false;
        for (const d of decide(plan, reports)) {
          const t = trials.get(d.index)!;
          const run = t.runId ? runs.get(t.runId) : undefined;
          if (d.type === 'stop') {
            await save(t, { state: 'stopped', rung: d.rung, stopReason: d.reason });
            if (run?.status === 'PAUSED') await cancelRun(tx, run.id, `stopped early by sweep ${sweepId}: ${d.reason}`);
            earlyStops++;
          } else if (d.type === 'promote') {
            await save(t, { state: 'promoted', rung: d.rung });
          } else if (d.type === 'complete') {
            await save(t, { state: 'completed', rung: d.rung });
            if (run?.status === 'PAUSED') await finishPausedRun(tx, run.id, `completed: the last rung of sweep ${sweepId}`);
          } else if ((d.resume && run) || (!d.resume && t.runId === null)) {
            // a trial that would queue a run counts against the team's quotas like any submission:
            // over them, it waits (pending or promoted) and the next step asks again
            if (!quotaChecked) {
              await lockTeam(tx, sweep.teamId);
              quotaChecked = true;
            }
            const short = await teamQuotaShortfall(tx, sweep.teamId, spec.worldSize, spec.defaultQuotas ?? DEFAULT_QUOTAS);
            if (short) {
              this.log(`sweep ${sweepId}: trial ${d.index} waits for the team's ${short.quota} quota (${short.have} of ${short.max})`, {
                sweep_id: sweepId,
              });
              continue;
            }
          }
          if (d.type === 'stop' || d.type === 'promote' || d.type === 'complete') continue;
          if (d.resume && run) {
            const config = { ...(run.config as Record<string, unknown>), stopAtStep: d.stopAtStep };
            if (await resumeRun(tx, run.id, toJsonValue(config), d.stopAtStep, d.rung)) {
              await save(t, { state: 'running', rung: d.rung });
              enqueue.push({ runId: run.id, priority: sweep.priority });
            }
          } else if (!d.resume && t.runId === null) {
            const stored = spec.trials.find((x) => x.index === d.index)!;
            const runId = await queueRun(
              tx,
              {
                teamId: sweep.teamId,
                kind: sweep.kind,
                name: `${sweep.name} #${d.index}`,
                preset: spec.preset,
                config: toJsonValue({ ...stored.config, stopAtStep: d.stopAtStep }),
                worldSize: spec.worldSize,
                priority: sweep.priority,
                maxRestarts: spec.maxRestarts,
                sourceCheckpointId: spec.sourceCheckpointId,
                plan: toJsonValue(stored.plan as object),
                resources: toJsonValue(stored.resources as object),
                queuedAt: new Date(),
                sweepId,
                trialIndex: d.index,
              },
              `queued by sweep ${sweepId} (${sweep.name}): trial ${d.index} ${JSON.stringify(stored.params)}, ` +
                `to ${d.stopAtStep === null ? 'the end' : `step ${d.stopAtStep}`}`,
              {
                kind: sweep.kind,
                preset: spec.preset,
                worldSize: spec.worldSize,
                priority: sweep.priority,
                sourceCheckpointId: spec.sourceCheckpointId,
              },
            );
            await save(t, { state: 'running', rung: d.rung, runId });
            enqueue.push({ runId, priority: sweep.priority });
          }
        }

        // 3. finished?
        const after: TrialReport[] = [...trials.values()].map((t) => ({
          index: t.index,
          state: t.state as TrialState,
          rung: Math.max(0, t.rung),
          rungMetrics: t.rungMetrics as (number | null)[],
        }));
        if (sweepFinished(plan, after)) {
          const anyMetric = after.some((t) => t.rungMetrics.some((v) => typeof v === 'number'));
          const status = anyMetric ? 'SUCCEEDED' : 'FAILED';
          await tx.sweep.update({
            where: { id: sweepId },
            data: { status, finishedAt: new Date(), error: anyMetric ? null : `no trial recorded ${spec.metric.name}` },
          });
          return { id: sweepId, teamId: sweep.teamId, status } as const;
        }
        await tx.sweep.update({ where: { id: sweepId }, data: { updatedAt: new Date() } });
        return null;
      },
      { maxWait: 15_000, timeout: 60_000 },
    );
    for (const e of enqueue) await enqueueRun(this.o.runsQueue, e.runId, e.priority);
    for (let i = 0; i < earlyStops; i++) this.o.onEarlyStop?.({ id: sweepId, teamId });
    if (done) {
      this.log(`sweep ${sweepId}: ${done.status}`, { sweep_id: sweepId });
      this.o.onSweepFinished?.(done);
    }
  }
}
