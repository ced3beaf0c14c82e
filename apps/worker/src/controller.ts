/**
 * The controller: takes each run job from BullMQ and supervises the run until it ends. A run of
 * world size N becomes N rank jobs per attempt (a gang); the controller watches the attempt's
 * rows in Postgres (status and heartbeats) and decides:
 *
 *   all ranks SUCCEEDED     → run SUCCEEDED; a sweep's trial that ran to its rung's
 *                             config.stopAtStep → PAUSED (the sweep driver, sweep-driver.ts,
 *                             promotes it: QUEUED again, a new attempt resumes from its checkpoint)
 *   run CANCELLED (API)     → stop the ranks, drop their queued jobs
 *   a rank failed …
 *     user (config, NaN)    → run FAILED at once with the rank's reason
 *     rendezvous timeout    → release every rank, requeue the gang after a jittered backoff
 *                             (no budget: the cluster was busy; two half-started runs can never
 *                             hold each other's workers forever)
 *     stopped (SIGTERM)     → requeue at once, no budget (an eviction, a spot notice)
 *     infra (lost peer, …)  → infraRestarts + 1; FAILED once it exceeds maxRestarts, else requeue
 *
 * Supervising awaits Postgres and timers, never the CPU, so the run job's lock stays renewed;
 * if a controller dies, BullMQ hands the stalled run job to another one, which picks the
 * supervision up from the rows (an attempt in flight, or one that ended while nobody watched, is
 * judged from its rows, never relaunched). A controller that is closed (SIGTERM) hands its runs
 * back to the queue at once. Postgres errors while supervising (an outage) are retried: the run
 * job stays with this controller until the database answers again. Every state change goes through
 * the run lifecycle (libs/db run-lifecycle.ts: the state diagram, the categories, the events).
 */
import { Worker, WaitingError, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  attemptFailure,
  cancelPendingRanks,
  countInfraRestart,
  createAttempt,
  endRank,
  failLiveRanks,
  failRun,
  isTerminal,
  LIVE_ATTEMPT_STATUSES,
  pauseRun,
  recordEvent,
  restartRun,
  stopMessage,
  succeedRun,
  type Db,
  type FailureCategory,
  type Run,
} from '@cim-forge/db';
import { cancelChannel, rankJobId, RUNS_QUEUE, redisConnection, type RankJobData, type RunJobData } from '@cim-forge/queue';
import type { ServiceEnv } from './service-env.ts';
import { fairRankPriority } from './fair-share.ts';

export interface ControllerOptions {
  env: ServiceEnv;
  db: Db;
  /** publishes gang stops */
  redis: Redis;
  ranksQueue: Queue<RankJobData>;
  /** ms between looks at a running attempt */
  pollMs?: number;
  /** rendezvous backoff: base·2^k ms, capped, ±50% jitter */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** runs supervised at once by this controller */
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
  log?(msg: string, fields?: Record<string, unknown>): void;
  onRunFinished?(run: Run): void;
  onRestart?(run: Run, cause: 'infra' | 'user'): void;
  /** the run's first rank process started training: seconds since it was queued */
  onStarted?(run: Run, queueWaitSeconds: number): void;
}

interface WatchState {
  reportedStart: boolean;
  /** since when this controller has read Postgres without an error (ms epoch) */
  dbOkSince: number;
}

type Outcome =
  | { kind: 'succeeded' }
  | { kind: 'cancelled' }
  | { kind: 'gone' }
  | { kind: 'failed'; category: FailureCategory; rank: number; reason: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a sweep's trial that runs to a rung: its config's stopAtStep (null: an ordinary run, or a trial run to its end) */
function trialStopAtStep(run: Run): number | null {
  if (run.sweepId === null) return null;
  const s = (run.config as { stopAtStep?: unknown } | null)?.stopAtStep;
  return typeof s === 'number' ? s : null;
}

export class Controller {
  private worker: Worker<RunJobData> | undefined;
  private closed = false;

  constructor(private readonly o: ControllerOptions) {}

  async start(): Promise<void> {
    const { env } = this.o;
    this.worker = new Worker<RunJobData>(RUNS_QUEUE, (job, token) => this.superviseJob(job, token), {
      connection: redisConnection(env.redisUrl),
      prefix: env.queuePrefix,
      concurrency: this.o.concurrency ?? 100,
      lockDuration: this.o.lockDuration ?? env.controllerLockMs,
      stalledInterval: this.o.stalledInterval ?? env.controllerLockMs,
      // a run job outlives any number of controllers: a stalled one always goes back to wait
      maxStalledCount: 1_000_000,
    });
    this.worker.on('error', (e) => this.log(`controller error: ${e.message}`));
    await this.worker.waitUntilReady();
  }

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.o.log?.(msg, fields);
  }

  /** The run job: supervise; when this controller is closing, hand the job back to the queue. */
  private async superviseJob(job: Job<RunJobData>, token: string | undefined): Promise<void> {
    await this.supervise(job.data.runId);
    if (!this.closed) return;
    const run = await this.o.db.run.findUnique({ where: { id: job.data.runId }, select: { status: true } }).catch(() => undefined);
    if (run === null || (run && isTerminal(run.status))) return;
    await job.moveToWait(token);
    this.log(`run ${job.data.runId}: handed back to the queue (controller closing)`, { run_id: job.data.runId });
    throw new WaitingError();
  }

  /** Supervises one run to its end; safe to call again for a run already in flight. Retries Postgres errors. */
  async supervise(runId: string): Promise<void> {
    const rendezvousFailures = { n: 0 };
    while (!this.closed) {
      try {
        await this.superviseOnce(runId, rendezvousFailures);
        return;
      } catch (e) {
        // picked up again from the rows: an attempt in flight is watched, not relaunched
        this.log(`run ${runId}: supervision error, retrying in 2 s: ${(e as Error).message.trim().split('\n').at(-1)}`, { run_id: runId });
        await sleep(2000);
      }
    }
  }

  private async superviseOnce(runId: string, rendezvousFailures: { n: number }): Promise<void> {
    const { db } = this.o;
    while (!this.closed) {
      const run = await db.run.findUnique({ where: { id: runId } });
      if (!run || isTerminal(run.status) || run.status === 'PAUSED') return;
      const attempt = await this.currentOrNewAttempt(run);
      const outcome = await this.watch(run, attempt);
      if (outcome.kind === 'gone') return;
      if (outcome.kind === 'succeeded') {
        const stopAtStep = trialStopAtStep(run);
        if (stopAtStep !== null) {
          await pauseRun(db, run, attempt, stopAtStep);
          return;
        }
        if (await succeedRun(db, run, attempt)) {
          this.o.onRunFinished?.({ ...run, status: 'SUCCEEDED' });
        }
        return;
      }
      // a stopped gang ends itself: its ranks agreed on the stop step and meet at a barrier after
      // rank 0's checkpoint, so the others get time to exit as "stopped" before they are killed
      await this.stopAttempt(run, attempt, outcome.kind === 'failed' && outcome.category === 'stopped');
      if (outcome.kind === 'cancelled') {
        this.o.onRunFinished?.({ ...run, status: 'CANCELLED' });
        return;
      }
      const { category, rank, reason } = outcome;
      await recordEvent(db, runId, 'rank.failed', `rank ${rank} failed (${category}): ${reason}`, { attempt, rank, category });
      if (category === 'user') {
        const failed = await failRun(db, runId, {
          category,
          error: `rank ${rank}: ${reason}`,
          message: `failed: ${reason} (an error in the run itself is not retried)`,
          data: { attempt, rank },
        });
        if (failed) {
          this.o.onRunFinished?.({ ...run, status: 'FAILED' });
        }
        return;
      }
      if (category === 'infra') {
        const updated = await countInfraRestart(db, runId);
        this.o.onRestart?.(updated, 'infra');
        if (updated.infraRestarts > updated.maxRestarts) {
          const failed = await failRun(db, runId, {
            category,
            error: `gave up after ${updated.maxRestarts} restart(s); last: rank ${rank}: ${reason}`,
            message: `restart budget (${updated.maxRestarts}) spent; last failure: rank ${rank}: ${reason}`,
            data: { attempt },
          });
          if (failed) {
            this.o.onRunFinished?.({ ...updated, status: 'FAILED' });
          }
          return;
        }
      }
      if (!(await restartRun(db, runId))) {
        const now = await db.run.findUnique({ where: { id: runId }, select: { status: true } });
        if (!now || isTerminal(now.status)) return;
      }
      let waitMs = 0;
      if (category === 'rendezvous') {
        const base = Math.min(this.o.backoffMaxMs ?? 60_000, (this.o.backoffBaseMs ?? 2000) * 2 ** rendezvousFailures.n++);
        waitMs = Math.round(base * (0.5 + Math.random()));
      } else if (category === 'infra') {
        waitMs = this.o.backoffBaseMs ?? 2000;
      }
      await recordEvent(
        db,
        runId,
        'run.restart',
        `${category === 'rendezvous' ? 'the gang did not assemble in time' : category === 'stopped' ? 'stopped for an eviction' : 'restarting after an infrastructure failure'}; requeueing all ${run.worldSize} rank(s)${waitMs ? ` in ${(waitMs / 1000).toFixed(1)} s` : ''} (attempt ${attempt + 1})`,
        { attempt: attempt + 1, cause: category, waitMs },
      );
      await sleep(waitMs);
    }
  }

  /** The attempt in flight, or a new one with its rank rows and jobs. */
  private async currentOrNewAttempt(run: Run): Promise<number> {
    const { db } = this.o;
    const last = await db.rankAttempt.findFirst({ where: { runId: run.id }, orderBy: { attempt: 'desc' } });
    if (last) {
      const rows = await db.rankAttempt.findMany({ where: { runId: run.id, attempt: last.attempt } });
      if (rows.some((r) => r.status === 'PENDING' || (LIVE_ATTEMPT_STATUSES as readonly string[]).includes(r.status))) {
        await this.enqueueRanks(
          run,
          last.attempt,
          rows.filter((r) => r.status === 'PENDING').map((r) => r.rank),
        );
        return last.attempt;
      }
      // it ended while no controller watched (this one took the run over): judge it from its rows.
      // Only a run the controller moved to RESTARTING (its failure already handled) gets a new attempt,
      // or a sweep's trial promoted from PAUSED (QUEUED again after its attempt ended at the rung).
      const promotedTrial = run.status === 'QUEUED' && run.sweepId !== null;
      if (run.status !== 'RESTARTING' && !promotedTrial) return last.attempt;
    }
    const attempt = last ? last.attempt + 1 : 0;
    await createAttempt(db, run.id, attempt, run.worldSize);
    await this.enqueueRanks(
      run,
      attempt,
      Array.from({ length: run.worldSize }, (_, rank) => rank),
    );
    this.log(`run ${run.id}: attempt ${attempt}, ${run.worldSize} rank job(s) queued`, { run_id: run.id });
    return attempt;
  }

  /** idempotent: job ids are (run, attempt, rank) */
  private async enqueueRanks(run: Run, attempt: number, ranks: number[]): Promise<void> {
    // every rank of the gang at one priority: the run's, then its team's fair share
    const priority = await fairRankPriority(this.o.db, run, attempt);
    await this.o.ranksQueue.addBulk(
      ranks.map((rank) => {
        const data: RankJobData = { runId: run.id, attempt, rank, worldSize: run.worldSize };
        return { name: 'rank', data, opts: { jobId: rankJobId(data), priority, attempts: 1, removeOnComplete: true, removeOnFail: 1000 } };
      }),
    );
  }

  private async watch(run: Run, attempt: number): Promise<Outcome> {
    const w: WatchState = { reportedStart: attempt > 0 || run.startedAt !== null, dbOkSince: Date.now() };
    let dbDown = false;
    while (!this.closed) {
      let outcome: Outcome | undefined;
      try {
        outcome = await this.look(run, attempt, w);
        if (dbDown) {
          dbDown = false;
          w.dbOkSince = Date.now();
          this.log(`run ${run.id}: its state is readable again`, { run_id: run.id });
        }
      } catch (e) {
        // Postgres away (an outage, a restart): keep watching; the ranks heartbeat again when it is back
        if (!dbDown)
          this.log(`run ${run.id}: cannot read its state (${(e as Error).message.trim().split('\n').at(-1)}); retrying`, {
            run_id: run.id,
          });
        dbDown = true;
      }
      if (outcome) return outcome;
      await sleep(this.o.pollMs ?? 500);
    }
    return { kind: 'gone' };
  }

  /** One look at a running attempt: its outcome, or undefined while it runs. */
  private async look(run: Run, attempt: number, w: WatchState): Promise<Outcome | undefined> {
    const { db, env } = this.o;
    const now = await db.run.findUnique({ where: { id: run.id }, select: { status: true, startedAt: true, queuedAt: true } });
    if (!now) return { kind: 'gone' };
    if (!w.reportedStart && now.startedAt) {
      w.reportedStart = true;
      this.o.onStarted?.(run, Math.max(0, (now.startedAt.getTime() - (now.queuedAt ?? run.createdAt).getTime()) / 1000));
    }
    if (now.status === 'CANCELLED') return { kind: 'cancelled' };
    if (isTerminal(now.status)) return { kind: 'gone' };
    const rows = await db.rankAttempt.findMany({ where: { runId: run.id, attempt }, orderBy: { rank: 'asc' } });
    const failed = rows.find((r) => r.status === 'FAILED');
    if (failed) return { kind: 'failed', ...attemptFailure(failed) };
    const cutoff = Date.now() - env.heartbeatTimeoutMs;
    // heartbeats could not be written while Postgres was away: silence counts from its return
    const live = (s: string) => (LIVE_ATTEMPT_STATUSES as readonly string[]).includes(s);
    const silent = w.dbOkSince > cutoff ? undefined : rows.find((r) => live(r.status) && r.heartbeatAt && r.heartbeatAt.getTime() < cutoff);
    if (silent) {
      const reason = `heartbeat lost (worker ${silent.workerId} silent for more than ${env.heartbeatTimeoutMs / 1000} s)`;
      // its worker wrote how it ended meanwhile: the next look reads that
      if (!(await endRank(db, { id: silent.id }, 'infra', reason))) return undefined;
      await recordEvent(
        db,
        run.id,
        'rank.lost',
        `rank ${silent.rank} lost: worker ${silent.workerId} sent no heartbeat for more than ${env.heartbeatTimeoutMs / 1000} s (attempt ${attempt})`,
        { attempt, rank: silent.rank, workerId: silent.workerId },
      );
      return { kind: 'failed', category: 'infra', rank: silent.rank, reason };
    }
    if (rows.length === run.worldSize && rows.every((r) => r.status === 'SUCCEEDED')) return { kind: 'succeeded' };
    if (rows.length === run.worldSize && rows.every((r) => ['SUCCEEDED', 'CANCELLED'].includes(r.status))) {
      const r = rows.find((x) => x.status === 'CANCELLED')!;
      return {
        kind: 'failed',
        category: 'infra',
        rank: r.rank,
        reason: `attempt ${attempt} ended unfinished (${r.exitReason ?? 'cancelled'})`,
      };
    }
    return undefined;
  }

  /**
   * Kill the attempt's live ranks, drop its queued rank jobs, and wait (bounded) for the rows to
   * settle. `letFinish`: first wait (bounded by the collective timeout) for the live ranks to end
   * by themselves.
   */
  private async stopAttempt(run: Run, attempt: number, letFinish = false): Promise<void> {
    const { db, env, redis, ranksQueue } = this.o;
    const liveRanks = () => db.rankAttempt.count({ where: { runId: run.id, attempt, status: { in: [...LIVE_ATTEMPT_STATUSES] } } });
    if (letFinish) {
      const until = Date.now() + Math.min(env.collectiveTimeoutMs, Math.max(10_000, env.heartbeatTimeoutMs));
      while (Date.now() < until && (await liveRanks()) > 0) await sleep(this.o.pollMs ?? 500);
    }
    await redis.publish(cancelChannel(env.queuePrefix), stopMessage(run.id, attempt));
    for (let rank = 0; rank < run.worldSize; rank++) {
      await ranksQueue.remove(rankJobId({ runId: run.id, attempt, rank })).catch(() => 0);
    }
    await cancelPendingRanks(db, run.id, attempt);
    const deadline = Date.now() + Math.max(10_000, env.heartbeatTimeoutMs);
    while (Date.now() < deadline) {
      if ((await liveRanks()) === 0) return;
      await sleep(this.o.pollMs ?? 500);
    }
    await failLiveRanks(db, run.id, attempt, 'did not stop when its gang was stopped');
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.close();
  }
}
