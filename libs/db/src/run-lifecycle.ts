/**
 * The run lifecycle, in one file: the states of a run and of its rank attempts, the only legal
 * moves between them, the failure categories, the events a run's log holds, and the messages that
 * stop a gang or end a rank. The API (submit, cancel), the controller and the workers call these
 * functions; nothing else writes `runs.status` or `rank_attempts.status`.
 *
 *  RUN (runs.status)
 *
 *    POST /v1/runs ──▶ QUEUED ──a worker takes a rank──▶ STARTING ──rank 0: the gang joined──▶ RUNNING
 *                        │                                  ▲  │                                 │
 *                        │             a worker takes a rank│  │ (QUEUED, STARTING, RUNNING)     │
 *                        │                                  │  ▼                                 │
 *                        │                               RESTARTING ◀──a rank failed: infra──────┘
 *                        │                                  │          (budget left), rendezvous,
 *                        │                                  │          stopped (SIGTERM)
 *                        ▼                                  ▼
 *            from any active state (QUEUED, STARTING, RUNNING, RESTARTING):
 *              ──▶ SUCCEEDED   every rank of the attempt SUCCEEDED                      (controller)
 *              ──▶ FAILED      a `user` failure, or the infra restart budget spent     (controller)
 *                              the run job could not be enqueued                       (API)
 *              ──▶ CANCELLED   POST /v1/runs/:id/cancel                                (API)
 *            SUCCEEDED, FAILED and CANCELLED are terminal: nothing moves a run out of them.
 *
 *  A SWEEP'S TRIAL (runs.sweep_id set; issue 22) may also pause at its rung:
 *    RUNNING ──every rank ended at config.stopAtStep (a checkpoint written)──▶ PAUSED     (controller: pauseRun)
 *    PAUSED  ──promoted: stopAtStep raised to the next rung (or cleared)────▶ QUEUED     (sweep driver: resumeRun)
 *    PAUSED  ──not promoted, or the sweep cancelled────────────────────────▶ CANCELLED  (sweep driver / API: cancelRun)
 *    PAUSED  ──the sweep finished and this trial was the last of its rung───▶ SUCCEEDED  (sweep driver: finishPausedRun)
 *  PAUSED is neither active (it holds no ranks, counts in no quota) nor terminal.
 *
 *  RANK ATTEMPT (rank_attempts.status: one row per run × attempt × rank; attempt k+1 is a new gang)
 *
 *    controller: attempt k queued ──▶ PENDING ──a worker takes it──▶ RENDEZVOUS ──the gang joined──▶ RUNNING
 *                                        │                               │                            │
 *                                        │ the gang was stopped          └──────────────┬─────────────┘
 *                                        ▼                                              ▼
 *                                    CANCELLED                the rank process ended (worker), or the
 *                                  ("never started")          controller gave up on it (heartbeat lost,
 *                                                             did not stop):
 *                                                               SUCCEEDED   exit 0
 *                                                               FAILED      with a failure category
 *                                                               CANCELLED   killed: run cancelled / gang stopped
 *
 *  FAILURE CATEGORY (rank_attempts.failure_category; runs.failure_category when the run FAILED)
 *    user        the run's own fault (config, data, non-finite loss, out of memory) → run FAILED at once
 *    rendezvous  the gang never assembled in time → RESTARTING after a jittered backoff, no budget
 *    stopped     SIGTERM (eviction, spot notice), after a checkpoint → RESTARTING at once, no budget
 *    infra       a peer died or hung, a service was lost → infraRestarts + 1; RESTARTING, or FAILED
 *                once infraRestarts > maxRestarts
 *  A rank process says which by its exit code (EXIT below); its worker writes the category column,
 *  and the controller reads the column.
 *
 *  MESSAGES
 *    stop   on the cancel channel (libs/queue cancelChannel): "<runId>" = the run was cancelled, kill
 *           every rank of it; "<runId>:<attempt>" = the controller stops that attempt (and earlier ones)
 *    exit   a rank process's exit code: EXIT.ok / user / rendezvous / infra / stopped
 *
 * Every move is one conditional UPDATE (`status IN (legal predecessors)`), so two writers racing
 * (a cancel and a success) cannot both win: the loser gets `false` and reads the row again. A move
 * the table does not allow is a programming error and throws IllegalTransitionError before any SQL.
 */
import {
  Prisma,
  type FailureCategory,
  type RankAttempt,
  type RankAttemptStatus,
  type Run,
  type RunKind,
  type RunStatus,
} from './generated/prisma/client.ts';
import type { Db } from './client.ts';
import { ACTIVE_RUN_STATUSES, PAUSED_RUN_STATUSES, TERMINAL_RUN_STATUSES } from './run-status.ts';

/** the client or a transaction's client (the API moves a run and records its event in one transaction) */
export type DbClient = Db | Prisma.TransactionClient;

// ── the transition tables ──────────────────────────────────────────────────────────────────────

export { ACTIVE_RUN_STATUSES, PAUSED_RUN_STATUSES, TERMINAL_RUN_STATUSES };
/** a rank attempt whose process lives (it heartbeats) */
export const LIVE_ATTEMPT_STATUSES = ['RENDEZVOUS', 'RUNNING'] as const satisfies readonly RankAttemptStatus[];

const ENDS = ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const;

/** run state → the states it may move to */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  QUEUED: ['STARTING', 'RUNNING', 'RESTARTING', ...ENDS],
  STARTING: ['RUNNING', 'RESTARTING', ...ENDS],
  RUNNING: ['RESTARTING', 'PAUSED', ...ENDS],
  RESTARTING: ['STARTING', 'RUNNING', ...ENDS],
  PAUSED: ['QUEUED', 'SUCCEEDED', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

/** rank attempt state → the states it may move to */
export const ATTEMPT_TRANSITIONS: Readonly<Record<RankAttemptStatus, readonly RankAttemptStatus[]>> = {
  PENDING: ['RENDEZVOUS', 'CANCELLED'],
  RENDEZVOUS: ['RUNNING', ...ENDS],
  RUNNING: [...ENDS],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

export class IllegalTransitionError extends Error {
  constructor(what: 'run' | 'rank attempt', from: string, to: string, legal: readonly string[]) {
    super(`illegal ${what} transition ${from} → ${to}: ${from} ${legal.length ? `moves only to ${legal.join(', ')}` : 'is terminal'}`);
    this.name = 'IllegalTransitionError';
  }
}

export function isTerminal(s: RunStatus): boolean {
  return (TERMINAL_RUN_STATUSES as readonly RunStatus[]).includes(s);
}

export function checkRunTransition(from: RunStatus, to: RunStatus): void {
  if (!RUN_TRANSITIONS[from].includes(to)) throw new IllegalTransitionError('run', from, to, RUN_TRANSITIONS[from]);
}

export function checkAttemptTransition(from: RankAttemptStatus, to: RankAttemptStatus): void {
  if (!ATTEMPT_TRANSITIONS[from].includes(to)) throw new IllegalTransitionError('rank attempt', from, to, ATTEMPT_TRANSITIONS[from]);
}

// ── failure categories and exit codes ──────────────────────────────────────────────────────────

/** a rank process's exit code says how it ended */
export const EXIT = {
  /** trained to the end (or evaluated) */
  ok: 0,
  /** the run's own fault: bad config, data too small, non-finite loss — fail the run at once */
  user: 10,
  /** the gang never assembled within the rendezvous timeout — release and requeue with backoff */
  rendezvous: 11,
  /** the platform's fault: a peer died or hung, Redis/S3/Postgres lost — restart from a checkpoint */
  infra: 12,
  /** stopped on request (SIGTERM: eviction, spot notice) after a checkpoint — requeue, no budget */
  stopped: 13,
} as const satisfies Record<'ok' | FailureCategory, number>;

export type ExitCategory = keyof typeof EXIT;

/** how a rank ended, as its worker records it: an exit category, or killed by a stop message */
export type RankOutcome = ExitCategory | 'cancelled';

/** a signal, or an exit code we did not write, is the platform's fault */
export function categoryOfExit(code: number | null, signal: NodeJS.Signals | null): ExitCategory {
  if (signal) return 'infra';
  for (const [k, v] of Object.entries(EXIT)) if (v === code) return k as ExitCategory;
  return 'infra';
}

// ── stop messages (the cancel channel) ─────────────────────────────────────────────────────────

export function stopMessage(runId: string, attempt?: number): string {
  return attempt === undefined ? runId : `${runId}:${attempt}`;
}

export function parseStopMessage(msg: string): { runId: string; attempt?: number } {
  const i = msg.lastIndexOf(':');
  if (i < 0) return { runId: msg };
  const attempt = Number(msg.slice(i + 1));
  return Number.isInteger(attempt) ? { runId: msg.slice(0, i), attempt } : { runId: msg };
}

// ── the events of a run's log (run_events; GET /v1/runs/:id/events) ───────────────────────────

/** every event type and its `data` */
export interface RunEventData {
  'run.queued': { kind: RunKind; preset: string | null; worldSize: number; priority: number; sourceCheckpointId: string | null };
  'run.attempt': { attempt: number };
  'run.running': { attempt: number };
  'run.resumed': { checkpoint: string; step: number; attempt: number };
  'run.restart': { attempt: number; cause: FailureCategory; waitMs: number };
  'run.succeeded': { attempt: number };
  'run.failed': { attempt?: number; rank?: number };
  'run.cancelled': Record<string, never>;
  /** a sweep's trial ended at its rung (config.stopAtStep) */
  'run.paused': { attempt: number; stopAtStep: number };
  /** a paused trial promoted to its next rung: queued again, to resume from its checkpoint */
  'run.promoted': { stopAtStep: number | null; rung: number };
  /** held-out numbers: IoU (pre-training), top-1 per epoch (fine-tune), the robustness report (eval) */
  'run.eval': object;
  'rank.failed': { attempt: number; rank: number; category: FailureCategory };
  /** lost by the controller (no heartbeat) or named by a peer that waited for it */
  'rank.lost':
    | { attempt: number; rank: number; workerId: string | null }
    | { attempt: number; missingRanks: number[]; operation: string; reporter: number };
  'checkpoint.complete': { checkpointId: string; step: number };
  'checkpoint.skipped': { checkpoint: string; attempt: number };
}

export type RunEventType = keyof RunEventData;

/** A value for a Json column: `value` as JSON would carry it (undefined fields dropped, dates as strings). */
export function toJsonValue(value: object): Prisma.InputJsonValue {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonValue;
}

export async function recordEvent<T extends RunEventType>(
  db: DbClient,
  runId: string,
  type: T,
  message: string,
  data?: RunEventData[T],
): Promise<void> {
  await db.runEvent.create({
    data: { runId, type, message, data: data === undefined || Object.keys(data).length === 0 ? undefined : toJsonValue(data) },
  });
}

// ── run moves ──────────────────────────────────────────────────────────────────────────────────

interface RunMoveFields {
  error?: string | null;
  finishedAt?: Date;
  failureCategory?: FailureCategory | null;
}

/** the legal predecessors of `to`, or `from` checked against the table */
function runSources(to: RunStatus, from?: readonly RunStatus[]): RunStatus[] {
  if (from) {
    for (const f of from) checkRunTransition(f, to);
    return [...from];
  }
  return (Object.keys(RUN_TRANSITIONS) as RunStatus[]).filter((f) => RUN_TRANSITIONS[f].includes(to));
}

/** Moves the run to `to` if it is in one of `from` (default: every legal predecessor); true when it did. */
export async function moveRun(
  db: DbClient,
  runId: string,
  to: RunStatus,
  fields: RunMoveFields = {},
  from?: readonly RunStatus[],
): Promise<boolean> {
  const r = await db.run.updateMany({ where: { id: runId, status: { in: runSources(to, from) } }, data: { status: to, ...fields } });
  return r.count === 1;
}

/** POST /v1/runs: the QUEUED row and its "run.queued" event (call inside the submit's transaction) */
export async function queueRun(
  tx: DbClient,
  data: Omit<Prisma.RunUncheckedCreateInput, 'status' | 'failureCategory'>,
  message: string,
  event: RunEventData['run.queued'],
): Promise<string> {
  const run = await tx.run.create({ data: { ...data, status: 'QUEUED', queuedAt: data.queuedAt ?? new Date() }, select: { id: true } });
  await recordEvent(tx, run.id, 'run.queued', message, event);
  return run.id;
}

/** A worker took one of its ranks: QUEUED or RESTARTING → STARTING. */
export function startRun(db: DbClient, runId: string): Promise<boolean> {
  return moveRun(db, runId, 'STARTING', {}, ['QUEUED', 'RESTARTING']);
}

/** Rank 0's gang joined: → RUNNING, stamping startedAt the first time only; records "run.running". */
export async function runRunning(db: DbClient, runId: string, attempt: number, worldSize: number): Promise<boolean> {
  const from = runSources('RUNNING');
  const n = await db.$executeRaw`
    UPDATE runs SET status = 'RUNNING', started_at = COALESCE(started_at, now()), updated_at = now()
    WHERE id = ${runId}::uuid AND status::text IN (${Prisma.join(from)})`;
  if (n !== 1) return false;
  await recordEvent(db, runId, 'run.running', `all ${worldSize} rank(s) joined (attempt ${attempt})`, { attempt });
  return true;
}

/** The controller saw every rank of `attempt` succeed. */
export async function succeedRun(db: DbClient, run: Pick<Run, 'id' | 'worldSize'>, attempt: number): Promise<boolean> {
  if (!(await moveRun(db, run.id, 'SUCCEEDED', { finishedAt: new Date(), error: null, failureCategory: null }))) return false;
  await recordEvent(db, run.id, 'run.succeeded', `all ${run.worldSize} rank(s) finished (attempt ${attempt})`, { attempt });
  return true;
}

/** FAILED with `error` (shown on the run) and `category`; `message` is the "run.failed" event's. */
export async function failRun(
  db: DbClient,
  runId: string,
  f: { category: FailureCategory; error: string; message?: string; data?: RunEventData['run.failed']; from?: readonly RunStatus[] },
): Promise<boolean> {
  if (!(await moveRun(db, runId, 'FAILED', { finishedAt: new Date(), error: f.error, failureCategory: f.category }, f.from))) return false;
  await recordEvent(db, runId, 'run.failed', f.message ?? f.error, f.data);
  return true;
}

/** POST /v1/runs/:id/cancel (call inside a transaction: the move and its event together). */
export async function cancelRun(tx: DbClient, runId: string, error: string): Promise<boolean> {
  if (!(await moveRun(tx, runId, 'CANCELLED', { finishedAt: new Date(), error }))) return false;
  await recordEvent(tx, runId, 'run.cancelled', error);
  return true;
}

/** A sweep's trial: every rank of `attempt` ended at config.stopAtStep: RUNNING → PAUSED (resumable). */
export async function pauseRun(db: DbClient, run: Pick<Run, 'id' | 'worldSize'>, attempt: number, stopAtStep: number): Promise<boolean> {
  if (!(await moveRun(db, run.id, 'PAUSED', { error: null, failureCategory: null }, ['RUNNING']))) return false;
  await recordEvent(db, run.id, 'run.paused', `paused at step ${stopAtStep}: all ${run.worldSize} rank(s) ended at the trial's rung (attempt ${attempt})`, {
    attempt,
    stopAtStep,
  });
  return true;
}

/**
 * A paused trial promoted: PAUSED → QUEUED with its config's stopAtStep raised to the next rung's
 * budget (null: run to the end). The caller enqueues its run job; the next attempt resumes from the
 * run's latest checkpoint (the rank runner's "run.resumed").
 */
export async function resumeRun(db: DbClient, runId: string, config: Prisma.InputJsonValue, stopAtStep: number | null, rung: number): Promise<boolean> {
  if (!(await moveRun(db, runId, 'QUEUED', {}, ['PAUSED']))) return false;
  await db.run.update({ where: { id: runId }, data: { config, queuedAt: new Date() } });
  await recordEvent(db, runId, 'run.promoted', `promoted to rung ${rung}: ${stopAtStep === null ? 'runs to its end' : `runs to step ${stopAtStep}`}, resuming from its checkpoint`, {
    stopAtStep,
    rung,
  });
  return true;
}

/** A paused trial that is its sweep's last word (the final rung, or the sweep done): PAUSED → SUCCEEDED. */
export async function finishPausedRun(db: DbClient, runId: string, message: string): Promise<boolean> {
  if (!(await moveRun(db, runId, 'SUCCEEDED', { finishedAt: new Date() }, ['PAUSED']))) return false;
  await recordEvent(db, runId, 'run.succeeded', message, { attempt: -1 });
  return true;
}

/** A failed attempt will be followed by another: QUEUED, STARTING or RUNNING → RESTARTING. */
export function restartRun(db: DbClient, runId: string): Promise<boolean> {
  return moveRun(db, runId, 'RESTARTING', {}, ['QUEUED', 'STARTING', 'RUNNING']);
}

/** an infra failure spends one restart of the run's budget; the run as it is now */
export function countInfraRestart(db: DbClient, runId: string): Promise<Run> {
  return db.run.update({ where: { id: runId }, data: { infraRestarts: { increment: 1 } } });
}

// ── rank attempt moves ─────────────────────────────────────────────────────────────────────────

export interface RankKey {
  runId: string;
  attempt: number;
  rank: number;
}

function attemptSources(to: RankAttemptStatus, from: readonly RankAttemptStatus[]): RankAttemptStatus[] {
  for (const f of from) checkAttemptTransition(f, to);
  return [...from];
}

/** Attempt `attempt` of the run: one PENDING row per rank and a "run.attempt" event (idempotent). */
export async function createAttempt(db: DbClient, runId: string, attempt: number, worldSize: number): Promise<void> {
  const ranks = Array.from({ length: worldSize }, (_, rank) => rank);
  const made = await db.rankAttempt.createMany({
    data: ranks.map((rank) => ({ runId, attempt, rank, status: 'PENDING' as const })),
    skipDuplicates: true,
  });
  if (made.count > 0) await recordEvent(db, runId, 'run.attempt', `attempt ${attempt}: ${worldSize} rank job(s) queued`, { attempt });
}

/** A worker takes the rank: PENDING → RENDEZVOUS, once (a redelivered job finds it taken: false). */
export async function takeRank(db: DbClient, k: RankKey, workerId: string): Promise<boolean> {
  const now = new Date();
  const r = await db.rankAttempt.updateMany({
    where: { ...k, status: { in: attemptSources('RENDEZVOUS', ['PENDING']) } },
    data: { status: 'RENDEZVOUS', workerId, startedAt: now, heartbeatAt: now },
  });
  return r.count === 1;
}

/** The rank joined its gang: RENDEZVOUS → RUNNING. */
export async function rankJoined(db: DbClient, k: RankKey): Promise<boolean> {
  const r = await db.rankAttempt.updateMany({
    where: { ...k, status: { in: attemptSources('RUNNING', ['RENDEZVOUS']) } },
    data: { status: 'RUNNING' },
  });
  return r.count === 1;
}

/** its worker is alive (live rows only) */
export async function heartbeatRank(db: DbClient, k: RankKey): Promise<void> {
  await db.rankAttempt.updateMany({ where: { ...k, status: { in: [...LIVE_ATTEMPT_STATUSES] } }, data: { heartbeatAt: new Date() } });
}

/** the status and category a rank's outcome writes */
export function attemptEnd(outcome: RankOutcome): { status: RankAttemptStatus; failureCategory: FailureCategory | null } {
  if (outcome === 'ok') return { status: 'SUCCEEDED', failureCategory: null };
  if (outcome === 'cancelled') return { status: 'CANCELLED', failureCategory: null };
  return { status: 'FAILED', failureCategory: outcome };
}

/** How a live rank ended (its worker, or the controller giving up on it); false if it had ended already. */
export async function endRank(db: DbClient, k: RankKey | { id: string }, outcome: RankOutcome, reason: string): Promise<boolean> {
  const end = attemptEnd(outcome);
  const r = await db.rankAttempt.updateMany({
    where: { ...k, status: { in: attemptSources(end.status, LIVE_ATTEMPT_STATUSES) } },
    data: { ...end, endedAt: new Date(), exitReason: reason.slice(0, 2000) },
  });
  return r.count === 1;
}

/** The controller stopped the gang before these ranks were taken: PENDING → CANCELLED. */
export async function cancelPendingRanks(db: DbClient, runId: string, attempt: number): Promise<void> {
  await db.rankAttempt.updateMany({
    where: { runId, attempt, status: { in: attemptSources('CANCELLED', ['PENDING']) } },
    data: { status: 'CANCELLED', endedAt: new Date(), exitReason: 'never started' },
  });
}

/** The attempt's ranks that still live after its gang was stopped: FAILED (infra). */
export async function failLiveRanks(db: DbClient, runId: string, attempt: number, reason: string): Promise<void> {
  await db.rankAttempt.updateMany({
    where: { runId, attempt, status: { in: attemptSources('FAILED', LIVE_ATTEMPT_STATUSES) } },
    data: { status: 'FAILED', failureCategory: 'infra', endedAt: new Date(), exitReason: reason },
  });
}

/** why a FAILED rank attempt failed, from its columns (a row from before the column: infra) */
export function attemptFailure(r: Pick<RankAttempt, 'rank' | 'failureCategory' | 'exitReason'>): {
  category: FailureCategory;
  rank: number;
  reason: string;
} {
  return { category: r.failureCategory ?? 'infra', rank: r.rank, reason: r.exitReason ?? 'unknown' };
}
