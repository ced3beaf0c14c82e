/**
 * libs/queue: the BullMQ contract between the API, the controller and the workers.
 *
 *   API         POST /v1/runs → row QUEUED → `enqueueRun` (queue "cim-runs", one job per run)
 *   controller  takes a run job → rank attempt rows → N jobs on "cim-ranks" (one per rank)
 *   worker      takes a rank job → rendezvous → trains → reports in Postgres
 *   cancel      API sets CANCELLED and `publishCancel`s; controller and workers subscribed to
 *               CANCEL_CHANNEL stop that run's ranks within seconds
 */
import { Queue, type ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

export const RUNS_QUEUE = 'cim-runs';
export const RANKS_QUEUE = 'cim-ranks';
/** pub/sub channel; the message is the run id */
export const CANCEL_CHANNEL = 'cim:runs:cancel';

export interface RunJobData {
  runId: string;
}

export interface RankJobData {
  runId: string;
  /** 0 = the first start, n = the n-th gang restart */
  attempt: number;
  rank: number;
  worldSize: number;
}

/** Our priority: an integer in [PRIORITY_MIN, PRIORITY_MAX], higher first (0 = normal). */
export const PRIORITY_MIN = -100;
export const PRIORITY_MAX = 100;

/** BullMQ's priority: 1 is the highest and 0 means "none" (served before every prioritised job). */
export function bullPriority(priority: number): number {
  if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    throw new Error(`priority must be an integer in [${PRIORITY_MIN}, ${PRIORITY_MAX}], got ${priority}`);
  }
  return PRIORITY_MAX + 1 - priority;
}

/** usage steps that order rank jobs within one priority (more usage waits longer; capped) */
export const FAIR_SHARE_STEPS = 10_000;

/**
 * A rank job's BullMQ priority: the run's priority first, then its team's recent usage in ranks
 * (fair share; apps/worker/src/fair-share.ts). At most (PRIORITY_MAX − PRIORITY_MIN + 1) · 10^4
 * ≈ 2·10^6, inside BullMQ's 2^21.
 */
export function rankJobPriority(priority: number, teamUsage: number): number {
  const usage = Math.min(FAIR_SHARE_STEPS - 1, Math.max(0, Math.floor(teamUsage)));
  return (bullPriority(priority) - 1) * FAIR_SHARE_STEPS + usage + 1;
}

export function runJobId(runId: string): string {
  return `run-${runId}`;
}

export function rankJobId(d: Pick<RankJobData, 'runId' | 'attempt' | 'rank'>): string {
  return `rank-${d.runId}-${d.attempt}-${d.rank}`;
}

/** ioredis options for BullMQ: workers need maxRetriesPerRequest null (blocking commands). */
export function redisConnection(url: string, extra: RedisOptions = {}): ConnectionOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`REDIS_URL must be redis:// or rediss://, got ${url}`);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    ...extra,
  };
}

/** Queues share a key prefix so tests (and several deployments on one Redis) never collide. */
export interface QueueOptions {
  redisUrl: string;
  /** BullMQ key prefix (default "bull") */
  prefix?: string;
}

export function runsQueue(o: QueueOptions): Queue<RunJobData> {
  return new Queue<RunJobData>(RUNS_QUEUE, { connection: redisConnection(o.redisUrl), prefix: o.prefix });
}

export function ranksQueue(o: QueueOptions): Queue<RankJobData> {
  return new Queue<RankJobData>(RANKS_QUEUE, { connection: redisConnection(o.redisUrl), prefix: o.prefix });
}

/** Enqueue a QUEUED run for the controller; idempotent (the job id is the run's). */
export async function enqueueRun(queue: Queue<RunJobData>, runId: string, priority: number): Promise<void> {
  await queue.add(
    'run',
    { runId },
    {
      jobId: runJobId(runId),
      priority: bullPriority(priority),
      removeOnComplete: true,
      removeOnFail: 1000,
    },
  );
}

/** Tell every controller and worker to stop this run's ranks now. */
export async function publishCancel(redis: Redis, runId: string, prefix = 'bull'): Promise<void> {
  await redis.publish(`${prefix}:${CANCEL_CHANNEL}`, runId);
}

export function cancelChannel(prefix = 'bull'): string {
  return `${prefix}:${CANCEL_CHANNEL}`;
}

/** Correlation-map figures: the API (uploads) and rank 0 (held-out, at checkpoint time) enqueue; workers render. */
export const FIGURES_QUEUE = 'cim-figures';

export interface FigureJobData {
  figureId: string;
}

export function figuresQueue(o: QueueOptions): Queue<FigureJobData> {
  return new Queue<FigureJobData>(FIGURES_QUEUE, { connection: redisConnection(o.redisUrl), prefix: o.prefix });
}

/** Enqueue a pending figure for a worker; idempotent (the job id is the figure's). */
export async function enqueueFigure(queue: Queue<FigureJobData>, figureId: string): Promise<void> {
  await queue.add(
    'figure',
    { figureId },
    { jobId: `figure-${figureId}`, attempts: 2, backoff: { type: 'fixed', delay: 5000 }, removeOnComplete: true, removeOnFail: 1000 },
  );
}
export { WORKER_ENTRY_TTL_MS, liveWorkerCount, registerWorker, unregisterWorker, workerRegistryKey } from './worker-registry.ts';
