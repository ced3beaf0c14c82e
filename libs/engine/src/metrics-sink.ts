import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Where step metrics go: a JSONL file in the CLI, Postgres and Prometheus in the service. */
export interface MetricsSink {
  write(record: Record<string, number | string | null>): Promise<void>;
  close(): Promise<void>;
}

export class JsonlMetricsSink implements MetricsSink {
  private buffer: string[] = [];
  private ready: Promise<unknown>;

  constructor(readonly path: string) {
    this.ready = mkdir(dirname(path), { recursive: true });
  }

  async write(record: Record<string, number | string | null>): Promise<void> {
    this.buffer.push(JSON.stringify(record));
    // a step takes ≥ 0.1 s: flushing each line keeps `tail -f` current at no real cost
    await this.flush();
  }

  async flush(): Promise<void> {
    await this.ready;
    if (this.buffer.length === 0) return;
    const lines = this.buffer.join('\n') + '\n';
    this.buffer = [];
    await appendFile(this.path, lines);
  }

  async close(): Promise<void> {
    await this.flush();
  }
}

export const nullMetricsSink: MetricsSink = { write: async () => {}, close: async () => {} };
