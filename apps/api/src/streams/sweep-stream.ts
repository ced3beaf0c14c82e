/**
 * The live feed of one sweep (issue 22), read by polling PostgreSQL like the run stream: every
 * poll reads the sweep with its trials and their runs' statuses and sends `event: sweep` with the
 * whole sweep resource (GET /v1/sweeps/:id's body) when any of it changed. `id:` is the latest
 * change's time in ms; with it as Last-Event-ID a client gets the sweep again only once it changed
 * after that. After a finished sweep (SUCCEEDED, FAILED, CANCELLED) is sent the feed ends.
 */
import type { Db } from '@cim-forge/db';
import { badRequest } from '../http-error.ts';
import type { SseSink } from './sse-connection.ts';
import { sweepInclude, toSweepResource } from '../sweeps/sweep-resource.ts';

export function parseSweepCursor(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw badRequest(`Last-Event-ID must be the <ms> this stream sent, got ${JSON.stringify(text.slice(0, 64))}`);
  return Number(text);
}

export class SweepStream {
  private ended = false;
  private lastKey = '';

  constructor(
    private readonly db: Db,
    private readonly sweepId: string,
    private sinceMs: number,
  ) {}

  get done(): boolean {
    return this.ended;
  }

  async poll(sink: SseSink): Promise<void> {
    const row = await this.db.sweep.findUnique({
      where: { id: this.sweepId },
      include: { ...sweepInclude, runs: { select: { id: true, status: true, trialIndex: true, updatedAt: true } } },
    });
    if (!row) {
      this.ended = true;
      return;
    }
    const times = [row.updatedAt, ...row.trials.map((t) => t.updatedAt), ...row.runs.map((r) => r.updatedAt)].map((d) => d.getTime());
    const latest = Math.max(...times);
    const key = `${latest}|${row.runs.map((r) => r.status).join(',')}`;
    if (latest > this.sinceMs || (this.lastKey !== '' && key !== this.lastKey)) {
      this.sinceMs = Math.max(this.sinceMs, latest);
      this.lastKey = key;
      sink.send({ id: String(this.sinceMs), event: 'sweep', data: toSweepResource(row) });
    } else if (this.lastKey === '') this.lastKey = key;
    if (row.status !== 'RUNNING') this.ended = true;
  }
}
