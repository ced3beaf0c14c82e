/**
 * The worker: one per GPU. Takes rank jobs from BullMQ (concurrency 1), runs each rank in a child
 * process (rank-runner.ts) and looks after it: heartbeats its rank attempt in Postgres, kills it
 * when its run is cancelled or its gang is stopped, and records how it ended. Training never runs
 * on this process's event loop, so BullMQ's lock renewal and the heartbeats keep their schedule
 * however long a step takes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  endRank,
  heartbeatRank,
  isTerminal,
  parseStopMessage,
  rankJoined,
  runRunning,
  startRun,
  takeRank,
  type Db,
  type RankOutcome,
} from '@cim-forge/db';
import {
  cancelChannel,
  RANKS_QUEUE,
  redisConnection,
  registerWorker,
  unregisterWorker,
  WORKER_ENTRY_TTL_MS,
  type RankJobData,
} from '@cim-forge/queue';
import { categoryOfExit, type RankMessage, type RankRunnerArgs } from './rank-protocol.ts';
import type { ServiceEnv } from './service-env.ts';
import { rankProcessEnv } from './rank-process-env.ts';
import { classifyRankExit } from './out-of-memory.ts';
import type { Logger, RankFailureReason, WorkerMetrics } from '@cim-forge/telemetry';
import { processEnv } from '@cim-forge/settings';

export interface RankWorkerOptions {
  env: ServiceEnv;
  db: Db;
  /** the process that runs one rank (tests swap in a stand-in) */
  runnerPath?: string;
  /** BullMQ lock, ms: renewed every lockDuration/2 while the rank runs */
  lockDuration?: number;
  stalledInterval?: number;
  /** extra env for rank processes */
  childEnv?: Record<string, string>;
  log?(msg: string, fields?: Record<string, unknown>): void;
  /** the backend label this worker's metrics carry; a rank that got another one is logged */
  backend?: string;
  /** Prometheus metrics of this worker (libs/telemetry) */
  metrics?: WorkerMetrics;
  /** the rank process's output, one JSON line per line it prints, with run_id and rank */
  logger?: Logger;
}

export interface RankJobResult {
  outcome: RankOutcome | 'skipped';
  reason: string;
}

const defaultRunner = fileURLToPath(new URL('./rank-runner.ts', import.meta.url));

export class RankWorker {
  private worker: Worker<RankJobData, RankJobResult> | undefined;
  private sub: Redis | undefined;
  private readonly running = new Map<string, { data: RankJobData; child: ChildProcess; stop: (why: string) => void }>();
  private closing: Promise<void> | undefined;
  /** the last run this worker trained: its series stay until the next one starts (bounded cardinality) */
  private lastRunId: string | undefined;

  constructor(private readonly o: RankWorkerOptions) {}

  async start(): Promise<void> {
    const { env } = this.o;
    this.sub = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
    await this.sub.subscribe(cancelChannel(env.queuePrefix));
    this.sub.on('message', (_ch, msg: string) => this.onStopMessage(msg));
    this.worker = new Worker<RankJobData, RankJobResult>(RANKS_QUEUE, (job) => this.process(job), {
      connection: redisConnection(env.redisUrl),
      prefix: env.queuePrefix,
      concurrency: 1,
      lockDuration: this.o.lockDuration ?? 30_000,
      stalledInterval: this.o.stalledInterval ?? 30_000,
    });
    this.worker.on('error', (e) => this.log(`worker error: ${e.message}`));
    await this.worker.waitUntilReady();
    // capacity the API can see: one rank per worker, refreshed while this worker lives
    this.registry = new Redis(env.redisUrl, { maxRetriesPerRequest: 1 });
    const refresh = () =>
      registerWorker(this.registry!, env.queuePrefix, env.workerId).catch((e: Error) =>
        this.log(`could not register the worker: ${e.message}`),
      );
    await refresh();
    this.registryTimer = setInterval(refresh, Math.min(10_000, WORKER_ENTRY_TTL_MS / 3));
  }

  private registry: Redis | undefined;
  private registryTimer: NodeJS.Timeout | undefined;

  /** Number of ranks running now (0 or 1). */
  get busy(): number {
    return this.running.size;
  }

  private log(msg: string, fields?: Record<string, unknown>): void {
    this.o.log?.(msg, fields);
  }

  private onStopMessage(msg: string): void {
    const stop = parseStopMessage(msg);
    for (const r of this.running.values()) {
      if (r.data.runId !== stop.runId) continue;
      if (stop.attempt !== undefined && r.data.attempt > stop.attempt) continue;
      r.stop(stop.attempt === undefined ? 'cancelled' : `gang stopped (attempt ${stop.attempt})`);
    }
  }

  private async process(job: Job<RankJobData, RankJobResult>): Promise<RankJobResult> {
    const d = job.data;
    const { db, env } = this.o;
    const key = { runId: d.runId, attempt: d.attempt, rank: d.rank };
    // Postgres errors here (an outage) are waited out: failing the job would lose the rank
    const run = await this.retrying('read the run', () =>
      db.run.findUnique({ where: { id: d.runId }, select: { status: true, teamId: true } }),
    );
    // a stale job: the run ended, or the controller moved on to a later attempt
    if (!run || isTerminal(run.status)) return { outcome: 'skipped', reason: `run ${run ? run.status : 'gone'}` };
    // the conditional update takes the rank once: a redelivered (stalled) job finds it taken and skips
    const taken = await this.retrying('take the rank attempt', () => takeRank(db, key, env.workerId));
    if (!taken) return { outcome: 'skipped', reason: 'rank attempt no longer pending' };
    await this.retrying('mark the run starting', () => startRun(db, d.runId));
    this.log(`rank ${d.rank}/${d.worldSize} of run ${d.runId} (attempt ${d.attempt}) starting`, { run_id: d.runId, rank: d.rank });

    if (this.lastRunId && this.lastRunId !== d.runId) this.o.metrics?.forgetRun(this.lastRunId);
    this.lastRunId = d.runId;
    const rm = this.o.metrics?.rank({ run_id: d.runId, rank: d.rank, team: run.teamId });
    this.o.metrics?.setBusy(true);
    rm?.heartbeat();
    const runLog = this.o.logger?.child({ run_id: d.runId, rank: d.rank, attempt: d.attempt });

    const args: RankRunnerArgs = { ...d, workerId: env.workerId };
    const runnerPath = this.o.runnerPath ?? defaultRunner;
    // TypeScript in a checkout runs through tsx; the images' compiled runner (dist/…/rank-runner.js) runs as it is
    const loader = runnerPath.endsWith('.ts') ? ['--import', 'tsx'] : [];
    const child = spawn(process.execPath, [...loader, runnerPath, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: rankProcessEnv(processEnv(), env, this.o.childEnv),
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-8000)));
    for (const [stream, level] of [
      [child.stdout!, 'info'],
      [child.stderr!, 'warn'],
    ] as const) {
      let rest = '';
      stream.on('data', (b: Buffer) => {
        const lines = (rest + b.toString()).split('\n');
        rest = lines.pop()!;
        for (const line of lines) {
          if (!line) continue;
          if (runLog) runLog[level]({ stream: level === 'info' ? 'stdout' : 'stderr' }, line);
          else (level === 'info' ? process.stdout : process.stderr).write(`${line}\n`);
        }
      });
    }
    let failure: { message: string } | undefined;
    let stoppedBy: string | undefined;
    child.on('message', (m: RankMessage) => {
      if (m.type === 'joined') {
        if (this.o.backend && m.backend && m.backend !== this.o.backend)
          this.log(
            `rank ${d.rank} of run ${d.runId} runs on tfjs backend ${m.backend}, not ${this.o.backend} as this worker's metrics say`,
            { run_id: d.runId, rank: d.rank },
          );
        void rankJoined(db, key)
          .then(async () => {
            if (d.rank === 0) await runRunning(db, d.runId, d.attempt, d.worldSize);
          })
          .catch((e) => this.log(`could not mark rank running: ${(e as Error).message}`));
      } else if (m.type === 'failed') {
        failure = { message: m.message };
      } else if (m.type === 'step' && rm) {
        rm.step({
          seconds: m.stepSeconds,
          images: (m.imagesPerSec * m.stepSeconds) / d.worldSize,
          loss: m.loss,
          lr: m.lr,
          targetMomentum: m.momentum ?? 0,
        });
        rm.allreduce(m.allReduceSeconds, m.allReduceBytes);
        rm.dataWait(m.dataWaitSeconds);
      } else if (m.type === 'checkpoint' && rm) {
        rm.checkpoint(m.seconds, m.bytes);
      }
    });
    const heartbeat = setInterval(() => {
      rm?.heartbeat();
      void heartbeatRank(db, key).catch((e) => this.log(`heartbeat failed: ${(e as Error).message}`));
    }, env.heartbeatMs);
    const entry = {
      data: d,
      child,
      stop: (why: string) => {
        stoppedBy ??= why;
        child.kill('SIGKILL');
      },
    };
    this.running.set(job.id!, entry);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    clearInterval(heartbeat);
    this.running.delete(job.id!);

    // a V8 heap abort (out of memory) is the run's own error, whatever the signal
    const exitCategory = classifyRankExit(categoryOfExit(exit.code, exit.signal), stderr);
    const category = exitCategory.category;
    const outcome: RankJobResult['outcome'] = stoppedBy ? 'cancelled' : category;
    const reason =
      stoppedBy ??
      exitCategory.oomReason ??
      (outcome === 'ok'
        ? 'exit 0'
        : (failure?.message ??
          (exit.signal ? `killed by ${exit.signal}` : `exit ${exit.code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)));
    // only a live row is ended here: the controller may have declared it lost meanwhile
    await this.retrying('record how the rank ended', () => endRank(db, key, outcome, reason));
    this.log(`rank ${d.rank} of run ${d.runId} ended: ${outcome} (${reason})`, { run_id: d.runId, rank: d.rank });
    this.o.metrics?.setBusy(false);
    if (outcome !== 'ok') rm?.failure(failureReason(outcome, exit.signal, reason));
    return { outcome, reason };
  }

  /** `fn`, retried every second while it throws (Postgres away), for up to `retryMs`. */
  private async retrying<T>(what: string, fn: () => Promise<T>, retryMs = 300_000): Promise<T> {
    const deadline = Date.now() + retryMs;
    for (let tries = 0; ; tries++) {
      try {
        return await fn();
      } catch (e) {
        if (Date.now() > deadline) throw e;
        if (tries === 0) this.log(`could not ${what}, retrying: ${(e as Error).message.trim().split('\n').at(-1)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** SIGTERM: ranks checkpoint at their next step boundary and exit (the run is requeued). */
  async close(gracefulMs = 600_000): Promise<void> {
    this.closing ??= (async () => {
      for (const r of this.running.values()) r.child.kill('SIGTERM');
      const deadline = Date.now() + gracefulMs;
      while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      for (const r of this.running.values()) r.child.kill('SIGKILL');
      clearInterval(this.registryTimer);
      if (this.registry) {
        await unregisterWorker(this.registry, this.o.env.queuePrefix, this.o.env.workerId).catch(() => {});
        this.registry.disconnect();
      }
      await this.worker?.close();
      this.sub?.disconnect();
    })();
    return this.closing;
  }
}

function failureReason(outcome: RankJobResult['outcome'], signal: NodeJS.Signals | null, reason: string): RankFailureReason {
  if (outcome === 'cancelled') return 'cancelled';
  if (outcome === 'rendezvous') return 'rendezvous';
  if (/heartbeat/.test(reason)) return 'heartbeat';
  return signal ? 'signal' : 'exit';
}
