/**
 * Takes figure jobs ("cim-figures") in a worker process, one at a time, each drawn by a child
 * process (figure-runner.ts) that is killed if it takes longer than `timeoutMs`. A figure is small
 * (one image, a few exemplars), so it shares the machine with a training rank. The runner gets an
 * explicit environment (rank-process-env.ts), as a rank does.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import type { Db } from '@cim-forge/db';
import { FIGURES_QUEUE, redisConnection, type FigureJobData } from '@cim-forge/queue';
import { processEnv } from '@cim-forge/settings';
import { rankProcessEnv } from '../rank-process-env.ts';
import type { ServiceEnv } from '../service-env.ts';

export interface FigureWorkerOptions {
  env: ServiceEnv;
  /** marks a figure failed when its runner dies on the last attempt (killed, out of memory) */
  db: Db;
  /** one figure, ms (default 600000) */
  timeoutMs?: number;
  /** extra variables for the runner (tests) */
  childEnv?: Record<string, string>;
  /** the runner script (tests use a stand-in); default figure-runner.ts */
  runnerPath?: string;
  log?(msg: string, fields?: Record<string, unknown>): void;
}

const runner = fileURLToPath(new URL('./figure-runner.ts', import.meta.url));

export class FigureWorker {
  private worker: Worker<FigureJobData> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly o: FigureWorkerOptions) {}

  async start(): Promise<void> {
    const { env } = this.o;
    this.worker = new Worker<FigureJobData>(FIGURES_QUEUE, (job) => this.draw(job), {
      connection: redisConnection(env.redisUrl),
      prefix: env.queuePrefix,
      concurrency: 1,
      lockDuration: 60_000,
    });
    this.worker.on('error', (e) => this.o.log?.(`figure worker error: ${e.message}`));
    await this.worker.waitUntilReady();
  }

  private draw(job: Job<FigureJobData>): Promise<void> {
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const script = this.o.runnerPath ?? runner;
    const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : []; // the images run the compiled figure-runner.js
    const child = spawn(process.execPath, [...loader, script, JSON.stringify({ figureId: job.data.figureId, final })], {
      // the IPC channel only tells the runner when this process is gone (it exits then)
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // like a rank, it decodes untrusted images: the service settings it reads and the OS basics,
      // never the worker's other variables (CIM_ADMIN_TOKEN, the pod's cloud credentials, …)
      env: rankProcessEnv(processEnv(), this.o.env, this.o.childEnv),
    });
    let out = '';
    const keep = (b: Buffer) => (out = (out + b.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const timeoutMs = this.o.timeoutMs ?? 600_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return new Promise((resolve, reject) => {
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`figure runner did not start: ${e.message}`));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        const last = out.trim().split('\n').at(-1) ?? '';
        this.o.log?.(`figure ${job.data.figureId}: ${code === 0 ? 'drawn' : `failed (${signal ?? `exit ${code}`})`} ${last}`, {
          figure_id: job.data.figureId,
        });
        if (code === 0) return resolve();
        const err = new Error(
          signal
            ? `figure runner killed by ${signal}${signal === 'SIGKILL' ? ` (over ${timeoutMs} ms?)` : ''}`
            : `figure runner exit ${code}: ${last}`,
        );
        if (!final) return reject(err);
        // the runner marks its own failures; one it could not mark (killed) is marked here
        this.o.db.figure
          .updateMany({
            where: { id: job.data.figureId, status: 'pending' },
            data: { status: 'failed', error: err.message, finishedAt: new Date() },
          })
          .then(
            () => reject(err),
            () => reject(err),
          );
      });
    });
  }

  /** safe to call twice; waits for the figure being drawn */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker?.close();
    })();
    return this.closing;
  }
}
