import { Worker } from 'node:worker_threads';
import type { SampleTask } from './sample-function.ts';
import type { LoaderWorkerInit, ResultMessage, TaskMessage } from './worker-protocol.ts';

interface Pending {
  resolve: (samples: unknown[]) => void;
  reject: (err: Error) => void;
  worker: number;
}

/**
 * Worker threads that run a sample function. A worker is kept referenced only while it has work,
 * so a process that forgets close() still exits once in-flight batches finish.
 */
export class SampleWorkerPool {
  private readonly workers: Worker[];
  private readonly inFlight: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(size: number, init: Omit<LoaderWorkerInit, 'entry'>) {
    const bootstrap = new URL('./worker-bootstrap.mjs', import.meta.url);
    const entry = new URL('./prefetch-worker.ts', import.meta.url).href;
    this.inFlight = new Array(size).fill(0);
    this.workers = Array.from({ length: size }, (_, i) => {
      const w = new Worker(bootstrap, {
        workerData: { ...init, entry } satisfies LoaderWorkerInit,
        execArgv: [], // tsx is registered by the bootstrap; the parent's flags (e.g. --test) must not leak
        name: `cim-loader-${i}`,
      });
      w.on('message', (msg: ResultMessage) => this.onResult(msg));
      w.on('error', (err: Error) => this.fail(new Error(`loader worker ${i} crashed: ${err.message}`, { cause: err })));
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`loader worker ${i} exited unexpectedly with code ${code}`));
      });
      w.unref();
      return w;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /** Samples `tasks` on worker `worker`, in order. */
  run(worker: number, epoch: number, tasks: SampleTask[]): Promise<unknown[]> {
    if (this.closing) return Promise.reject(new Error('loader worker pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<unknown[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      if (this.inFlight[worker]++ === 0) this.workers[worker].ref();
      this.workers[worker].postMessage({ id, epoch, tasks } satisfies TaskMessage);
    });
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (--this.inFlight[p.worker] === 0) this.workers[p.worker].unref();
    return p;
  }

  private onResult(msg: ResultMessage): void {
    const p = this.settle(msg.id);
    if (!p) return;
    if (msg.ok) p.resolve(msg.samples);
    else p.reject(Object.assign(new Error(msg.message), msg.stack ? { workerStack: msg.stack } : {}));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const id of [...this.pending.keys()]) this.settle(id)!.reject(err);
  }

  /** Rejects work still in flight and terminates the threads. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const err = new Error('loader worker pool closed');
      for (const id of [...this.pending.keys()]) this.settle(id)!.reject(err);
      await Promise.all(this.workers.map((w) => w.terminate()));
    })();
    return this.closing;
  }
}
