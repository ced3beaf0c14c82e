/**
 * The live feed of one run, read by polling PostgreSQL (the rows the controller and workers write
 * are the source of truth; no trigger, no extra channel, and any API replica can serve any
 * client). Every poll: the run's status row, its events after the event window, its metric points
 * after the metric window. Messages:
 *   event: status     {id, status, error, startedAt, finishedAt, updatedAt, infraRestarts, userRestarts}
 *   event: run-event  {id, at, type, message, data}
 *   event: metric     {points: [{name, rank, step, value, at}]}
 * Each carries `id: <status ms>.<event id>.<metric id>`, the position after it; a client that
 * reconnects with that as Last-Event-ID gets what it missed. After a terminal status the feed
 * polls once more (rows committed just after it) and ends.
 *
 * A resume from far back (`Last-Event-ID: 0.0.0` on a run with millions of points) is read one
 * page at a time: each page goes to the client as soon as it is read, the next is read only once
 * the client has taken most of the last (`drained()`), and reading stops when the client leaves.
 * Memory is one page, whatever the history.
 */
import type { Db } from '@cim-forge/db';
import { badRequest } from '../http-error.ts';
import { IdWindow } from './id-window.ts';
import type { SseSink } from './sse-connection.ts';

/** ids re-read on every poll to catch batches that commit out of id order */
export const EVENT_LOOKBACK = 256n;
export const METRIC_LOOKBACK = 1024n;
/** most rows one read takes */
export const EVENT_PAGE = 1000;
export const METRIC_PAGE = 5000;

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export interface RunCursor {
  /** updatedAt (ms) of the last status sent; 0 = none yet */
  statusMs: number;
  eventId: bigint;
  metricId: bigint;
}

const CURSOR = /^(\d{1,15})\.(\d{1,19})\.(\d{1,19})$/;

export function formatRunCursor(c: RunCursor): string {
  return `${c.statusMs}.${c.eventId}.${c.metricId}`;
}

export function parseRunCursor(text: string): RunCursor {
  const m = CURSOR.exec(text);
  if (!m)
    throw badRequest(
      `Last-Event-ID must be <status ms>.<event id>.<metric id> as this stream sent it, got ${JSON.stringify(text.slice(0, 64))}`,
    );
  return { statusMs: Number(m[1]), eventId: BigInt(m[2]), metricId: BigInt(m[3]) };
}

/** where a new client starts: the current status, then only what is written from now on */
export async function currentRunCursor(db: Db): Promise<RunCursor> {
  const [row] = await db.$queryRaw<{ e: bigint | null; m: bigint | null }[]>`
    SELECT (SELECT max(id) FROM run_events) AS e, (SELECT max(id) FROM metrics) AS m`;
  return { statusMs: 0, eventId: row.e ?? 0n, metricId: row.m ?? 0n };
}

export class RunStream {
  private statusMs: number;
  private readonly events: IdWindow;
  private readonly metrics: IdWindow;
  private ended = false;
  private terminalSeen = false;

  constructor(
    private readonly db: Db,
    private readonly runId: string,
    start: RunCursor,
    private readonly pages = { events: EVENT_PAGE, metrics: METRIC_PAGE },
  ) {
    this.statusMs = start.statusMs;
    this.events = new IdWindow(start.eventId, EVENT_LOOKBACK);
    this.metrics = new IdWindow(start.metricId, METRIC_LOOKBACK);
  }

  /** a new client (no Last-Event-ID): what already sits inside the windows is not news */
  async skipExisting(): Promise<void> {
    const [events, metrics] = await Promise.all([
      this.db.runEvent.findMany({
        where: { runId: this.runId, id: { gt: this.events.low, lte: this.events.position } },
        select: { id: true },
      }),
      this.db.metric.findMany({
        where: { runId: this.runId, id: { gt: this.metrics.low, lte: this.metrics.position } },
        select: { id: true },
      }),
    ]);
    this.events.markSeen(events);
    this.metrics.markSeen(metrics);
  }

  /** true once a terminal status was sent and the last drain done */
  get done(): boolean {
    return this.ended;
  }

  private id(): string {
    return formatRunCursor({ statusMs: this.statusMs, eventId: this.events.position, metricId: this.metrics.position });
  }

  /** one poll: status first, then events, then points, each page sent as it is read; stops when the client leaves */
  async poll(sink: SseSink): Promise<void> {
    const run = await this.db.run.findUnique({
      where: { id: this.runId },
      select: { status: true, error: true, startedAt: true, finishedAt: true, updatedAt: true, infraRestarts: true, userRestarts: true },
    });
    if (!run) {
      this.ended = true;
      return;
    }
    const terminal = TERMINAL.has(run.status);
    if (run.updatedAt.getTime() > this.statusMs) {
      this.statusMs = run.updatedAt.getTime();
      sink.send({
        id: this.id(),
        event: 'status',
        data: {
          id: this.runId,
          status: run.status,
          error: run.error,
          startedAt: run.startedAt?.toISOString() ?? null,
          finishedAt: run.finishedAt?.toISOString() ?? null,
          updatedAt: run.updatedAt.toISOString(),
          infraRestarts: run.infraRestarts,
          userRestarts: run.userRestarts,
        },
      });
    }
    // the first page re-reads the lookback (late commits); the next ones go on from the position
    for (let after = this.events.low; !sink.isClosed; after = this.events.position) {
      const rows = await this.db.runEvent.findMany({
        where: { runId: this.runId, id: { gt: after } },
        orderBy: { id: 'asc' },
        take: this.pages.events,
        select: { id: true, at: true, type: true, message: true, data: true },
      });
      for (const e of this.events.accept(rows)) {
        sink.send({
          id: this.id(),
          event: 'run-event',
          data: { id: Number(e.id), at: e.at.toISOString(), type: e.type, message: e.message, data: e.data },
        });
      }
      if (rows.length < this.pages.events) break;
      await sink.drained();
    }
    for (let after = this.metrics.low; !sink.isClosed; after = this.metrics.position) {
      const rows = await this.db.metric.findMany({
        where: { runId: this.runId, id: { gt: after } },
        orderBy: { id: 'asc' },
        take: this.pages.metrics,
        select: { id: true, name: true, rank: true, step: true, value: true, at: true },
      });
      const fresh = this.metrics.accept(rows);
      if (fresh.length > 0) {
        sink.send({
          id: this.id(),
          event: 'metric',
          data: { points: fresh.map((p) => ({ name: p.name, rank: p.rank, step: p.step, value: p.value, at: p.at.toISOString() })) },
        });
      }
      if (rows.length < this.pages.metrics) break;
      await sink.drained();
    }
    if (sink.isClosed) return;
    // one more poll after the terminal status picks up rows its writer committed just after it
    if (this.terminalSeen) this.ended = true;
    if (terminal) this.terminalSeen = true;
  }
}
