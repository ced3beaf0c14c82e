/**
 * The team-wide feed of run status changes (`event: status` {id, kind, name, status, error,
 * updatedAt, startedAt, finishedAt}), read by polling runs.updated_at, which every writer of a
 * run row sets (Prisma's @updatedAt, the worker's SQL). `updated_at` is the writing
 * transaction's start time, so a slow transaction can land behind rows already read: each poll
 * re-reads the last LOOKBACK_MS and remembers what it sent. The message id is the highest
 * updated_at (ms) sent; after a reconnect the lookback may repeat a change (statuses are
 * idempotent).
 */
import type { Db, Prisma } from '@cim-forge/db';
import { badRequest } from '../http-error.ts';
import type { SseSink } from './sse-connection.ts';

export const LOOKBACK_MS = 5000;
const PAGE = 500;

export function parseTeamCursor(text: string): number {
  if (!/^\d{1,15}$/.test(text))
    throw badRequest(`Last-Event-ID must be the ms timestamp this stream sent, got ${JSON.stringify(text.slice(0, 64))}`);
  return Number(text);
}

/** now on the database's clock, ms: a new client hears only changes from here on */
export async function currentTeamCursor(db: Db): Promise<number> {
  const [row] = await db.$queryRaw<{ now: Date }[]>`SELECT now() AS now`;
  return row.now.getTime();
}

export class TeamStream {
  /** run id → the updated_at (ms) of its last change sent */
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly where: Prisma.RunWhereInput,
    private cursorMs: number,
  ) {}

  /** one poll, each page sent as it is read; stops when the client leaves */
  async poll(sink: SseSink): Promise<void> {
    let since = this.cursorMs - LOOKBACK_MS;
    while (!sink.isClosed) {
      const rows = await this.db.run.findMany({
        where: { ...this.where, updatedAt: { gt: new Date(since) } },
        orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
        take: PAGE,
        select: { id: true, kind: true, name: true, status: true, error: true, updatedAt: true, startedAt: true, finishedAt: true },
      });
      for (const r of rows) {
        const ms = r.updatedAt.getTime();
        if (this.sent.get(r.id) !== undefined && this.sent.get(r.id)! >= ms) continue;
        this.sent.set(r.id, ms);
        if (ms > this.cursorMs) this.cursorMs = ms;
        sink.send({
          id: String(this.cursorMs),
          event: 'status',
          data: {
            id: r.id,
            kind: r.kind,
            name: r.name,
            status: r.status,
            error: r.error,
            updatedAt: r.updatedAt.toISOString(),
            startedAt: r.startedAt?.toISOString() ?? null,
            finishedAt: r.finishedAt?.toISOString() ?? null,
          },
        });
      }
      if (rows.length < PAGE) break;
      const next = rows[rows.length - 1].updatedAt.getTime() - 1;
      if (next <= since) break;
      since = next;
      await sink.drained();
    }
    const forget = this.cursorMs - LOOKBACK_MS;
    for (const [id, ms] of this.sent) if (ms < forget) this.sent.delete(id);
  }
}
