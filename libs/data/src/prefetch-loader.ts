import { epochOrder, shardPositionInEpoch, shardSize } from './epoch-order.ts';
import type { ImageSource } from './image-source.ts';
import { loadSampleFunction, runSampleTasks, type SampleFunction, type SampleTask } from './sample-function.ts';
import { SampleWorkerPool } from './sample-worker-pool.ts';
import { sampleSeed } from './seeded-random.ts';
import { openSource, type SourceSpec } from './source-spec.ts';

export interface PrefetchLoaderOptions {
  source: SourceSpec;
  /** absolute path (or file: URL) of the module exporting the sample function */
  sampleModule: string;
  /** name of the exported SampleFunction */
  sampleExport: string;
  /** passed to every call; must survive structured cloning (JSON-like) */
  sampleOptions?: unknown;
  /** samples per batch on this rank */
  batchSize: number;
  /** run seed: fixes the epoch orders and every per-sample seed */
  seed: number;
  rank?: number;
  worldSize?: number;
  /** sampling threads; 0 runs the sample function in the calling thread (default 0) */
  workers?: number;
  /** batches computed ahead of the one being consumed (default 2) */
  prefetch?: number;
  /** where to start, e.g. a checkpoint's `state()` (default epoch 0, cursor 0) */
  startEpoch?: number;
  startCursor?: number;
  /** skip an epoch's last batch when it would be smaller than batchSize (default false) */
  dropLast?: boolean;
}

/** A position in the data stream: the next batch starts at shard index `cursor` of `epoch`. */
export interface LoaderState {
  epoch: number;
  cursor: number;
}

export interface LoaderBatch<S = unknown> {
  epoch: number;
  /** index within the epoch's shard after this batch */
  cursor: number;
  /** source indices of the samples */
  indices: number[];
  /** their labels, when the source has labels */
  labels?: number[];
  samples: S[];
}

export interface LoaderInfo {
  sourceName: string;
  sourceSize: number;
  /** samples per epoch on this rank */
  shardSize: number;
  /** batches per epoch on this rank (the last one may be short unless dropLast) */
  batchesPerEpoch: number;
}

interface Opened {
  source: ImageSource;
  info: LoaderInfo;
  fn?: SampleFunction;
  pool?: SampleWorkerPool;
}

/**
 * Streams batches of sampled images, epoch after epoch, computing up to `prefetch` batches ahead on
 * worker threads. Batch contents are a function of (seed, epoch, cursor, batchSize, rank,
 * worldSize) only: the same whatever `workers` and `prefetch` are, and restarting from `state()`
 * reproduces the batches that would have followed. A batch never spans two epochs.
 */
export class PrefetchLoader<S = unknown> {
  private readonly opts: Required<Omit<PrefetchLoaderOptions, 'sampleOptions'>> & { sampleOptions: unknown };
  private opening: Promise<Opened> | undefined;
  /** where the next batch to schedule starts */
  private plan: LoaderState;
  /** after the last batch handed out by next() */
  private consumed: LoaderState;
  private consumedSeq = 0;
  private scheduledSeq = 0;
  private readonly queue: Array<{ seq: number; batch: Promise<LoaderBatch<S>> }> = [];
  private readonly orders = new Map<number, Uint32Array>();
  private closing: Promise<void> | undefined;

  constructor(options: PrefetchLoaderOptions) {
    const o = {
      rank: 0,
      worldSize: 1,
      workers: 0,
      prefetch: 2,
      startEpoch: 0,
      startCursor: 0,
      dropLast: false,
      sampleOptions: undefined,
      ...options,
    };
    const int = (name: string, v: number, min: number): void => {
      if (!Number.isInteger(v) || v < min) throw new RangeError(`PrefetchLoader: ${name} must be an integer >= ${min}, got ${v}`);
    };
    int('batchSize', o.batchSize, 1);
    int('worldSize', o.worldSize, 1);
    int('rank', o.rank, 0);
    if (o.rank >= o.worldSize) throw new RangeError(`PrefetchLoader: rank ${o.rank} not in [0, ${o.worldSize})`);
    int('workers', o.workers, 0);
    int('prefetch', o.prefetch, 0);
    int('startEpoch', o.startEpoch, 0);
    int('startCursor', o.startCursor, 0);
    if (!Number.isInteger(o.seed)) throw new RangeError(`PrefetchLoader: seed must be an integer, got ${o.seed}`);
    this.opts = o;
    this.plan = { epoch: o.startEpoch, cursor: o.startCursor };
    this.consumed = { ...this.plan };
  }

  /** Opens the source (and starts the workers); resolves with the epoch geometry. */
  async ready(): Promise<LoaderInfo> {
    return (await this.open()).info;
  }

  /** The position to save in a checkpoint: after the last batch returned by next(). */
  state(): LoaderState {
    return { ...this.consumed };
  }

  async next(): Promise<LoaderBatch<S>> {
    if (this.closing) throw new Error('PrefetchLoader is closed');
    const opened = await this.open();
    if (this.closing) throw new Error('PrefetchLoader is closed');
    while (this.queue.length < this.opts.prefetch + 1) this.schedule(opened);
    const { seq, batch } = this.queue.shift()!; // `prefetch` batches stay in flight behind it
    const b = await batch;
    if (seq > this.consumedSeq) {
      this.consumedSeq = seq;
      this.consumed = { epoch: b.epoch, cursor: b.cursor };
    }
    return b;
  }

  /** Stops the workers and drops prefetched batches. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.queue.length = 0;
      const opened = await this.opening?.catch(() => undefined);
      await opened?.pool?.close();
    })();
    return this.closing;
  }

  private open(): Promise<Opened> {
    this.opening ??= this.doOpen();
    return this.opening;
  }

  private async doOpen(): Promise<Opened> {
    const o = this.opts;
    // the main thread opens the source first, so that a cache it builds is there for the workers
    const source = await openSource(o.source);
    const n = shardSize(source.size, o.worldSize);
    if (n < 1) throw new Error(`PrefetchLoader: ${source.name} has ${source.size} images, fewer than worldSize ${o.worldSize}`);
    if (o.dropLast && n < o.batchSize) {
      throw new Error(`PrefetchLoader: shard of ${n} images is smaller than batchSize ${o.batchSize} with dropLast`);
    }
    if (o.startCursor > n) throw new RangeError(`PrefetchLoader: startCursor ${o.startCursor} beyond shard size ${n}`);
    const info: LoaderInfo = {
      sourceName: source.name,
      sourceSize: source.size,
      shardSize: n,
      batchesPerEpoch: o.dropLast ? Math.floor(n / o.batchSize) : Math.ceil(n / o.batchSize),
    };
    if (o.workers === 0) {
      const fn = await loadSampleFunction(o.sampleModule, o.sampleExport);
      return { source, info, fn };
    }
    const pool = new SampleWorkerPool(o.workers, {
      source: o.source,
      sourceSize: source.size,
      sampleModule: o.sampleModule,
      sampleExport: o.sampleExport,
      sampleOptions: o.sampleOptions,
    });
    if (this.closing) await pool.close();
    return { source, info, pool };
  }

  private shardOrder(source: ImageSource, epoch: number): Uint32Array {
    let order = this.orders.get(epoch);
    if (!order) {
      const { seed, rank, worldSize } = this.opts;
      order = epochOrder(source.size, seed, epoch, rank, worldSize);
      this.orders.set(epoch, order);
      for (const e of this.orders.keys()) if (e < epoch - 1) this.orders.delete(e);
    }
    return order;
  }

  /** Starts computing the batch at `plan` and advances `plan` past it. */
  private schedule(opened: Opened): void {
    const { batchSize, dropLast, seed, rank, worldSize } = this.opts;
    const n = opened.info.shardSize;
    let { epoch, cursor } = this.plan;
    if (cursor >= n || (dropLast && cursor + batchSize > n)) {
      epoch += 1;
      cursor = 0;
    }
    const end = Math.min(cursor + batchSize, n);
    const order = this.shardOrder(opened.source, epoch);
    const tasks: SampleTask[] = [];
    for (let k = cursor; k < end; k++) {
      const position = shardPositionInEpoch(k, rank, worldSize);
      tasks.push({ index: order[k], position, seed: sampleSeed(seed, epoch, position) });
    }
    this.plan = { epoch, cursor: end };
    const indices = tasks.map((t) => t.index);
    const { source } = opened;
    const labels = source.label ? indices.map((i) => source.label!(i)) : undefined;
    const batch = this.compute(opened, epoch, tasks).then((samples): LoaderBatch<S> => ({
      epoch,
      cursor: end,
      indices,
      ...(labels ? { labels } : {}),
      samples: samples as S[],
    }));
    batch.catch(() => {}); // a prefetched batch nobody awaits must not be an unhandled rejection
    this.queue.push({ seq: ++this.scheduledSeq, batch });
  }

  private async compute(opened: Opened, epoch: number, tasks: SampleTask[]): Promise<unknown[]> {
    const { pool, fn, source } = opened;
    if (!pool) {
      await new Promise<void>((r) => setImmediate(r)); // let next() return before sampling inline
      return runSampleTasks(source, fn!, this.opts.sampleOptions, epoch, tasks);
    }
    // contiguous chunks, one per worker, reassembled in order
    const chunks = Math.min(pool.size, tasks.length);
    const parts: Promise<unknown[]>[] = [];
    for (let w = 0; w < chunks; w++) {
      const lo = Math.floor((w * tasks.length) / chunks);
      const hi = Math.floor(((w + 1) * tasks.length) / chunks);
      parts.push(pool.run(w, epoch, tasks.slice(lo, hi)));
    }
    return (await Promise.all(parts)).flat();
  }
}
