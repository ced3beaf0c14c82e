/**
 * The engine's MetricsSink into Postgres: each record's numeric fields become points
 * (name = field, step = record.step), buffered and written in batches — every `maxPoints` points
 * or `flushMs` after the first unwritten one, and on close — so a step never waits for a round
 * trip. Writes are upserts: a restarted gang re-logs the steps after its checkpoint.
 */
import { writeMetrics, type Db, type MetricPoint } from '@cim-forge/db';

export interface PostgresMetricsSinkOptions {
  db: Db;
  runId: string;
  /** null: run-level series (rank 0 writes them); a number: this rank's own series */
  rank: number | null;
  maxPoints?: number;
  flushMs?: number;
  /** fields that are not series */
  skip?: readonly string[];
}

const DEFAULT_SKIP = ['step', 'time', 'rank'];

export class PostgresMetricsSink {
  private buffer: MetricPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private readonly skip: Set<string>;

  constructor(private readonly o: PostgresMetricsSinkOptions) {
    this.skip = new Set(o.skip ?? DEFAULT_SKIP);
  }

  async write(record: Record<string, number | string | null>): Promise<void> {
    if (this.failure) throw this.failure;
    const step = Number(record.step);
    if (!Number.isInteger(step)) return;
    const at = typeof record.time === 'number' ? new Date(record.time * 1000) : new Date();
    for (const [name, value] of Object.entries(record)) {
      if (this.skip.has(name) || typeof value !== 'number' || !Number.isFinite(value)) continue;
      this.buffer.push({ runId: this.o.runId, name, rank: this.o.rank, step, value, at });
    }
    if (this.buffer.length >= (this.o.maxPoints ?? 500)) await this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush().catch(() => {}), this.o.flushMs ?? 1000);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // one row per (name, step) in a statement: Postgres refuses an upsert that hits a row twice
    // (a fine-tune logs `epoch` with the step's loss and again with its eval); the last value wins
    const batch = [...new Map(this.buffer.map((p) => [`${p.name}\u0000${p.step}`, p])).values()];
    this.buffer = [];
    // one write at a time, in order
    this.writing = this.writing.then(async () => {
      if (batch.length === 0) return;
      try {
        await writeMetrics(this.o.db, batch);
      } catch (e) {
        this.failure = e as Error;
      }
    });
    await this.writing;
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
