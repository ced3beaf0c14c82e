/**
 * The read position of a stream over an autoincrement id (run_events.id, metrics.id). Ids are
 * taken when a row is inserted but become visible when its transaction commits, so a batch with
 * lower ids can commit after a higher one was already read (two ranks writing at once). The
 * window therefore re-reads the last `lookback` ids on every poll and remembers which of them it
 * has sent: every committed row is delivered once per connection, as long as it commits before
 * `lookback` later ids have been read. After a reconnect (Last-Event-ID) the memory is gone, so
 * rows inside the window may come again: clients dedupe (events by id, points by name/rank/step).
 */
export class IdWindow {
  private readonly seen = new Set<bigint>();

  constructor(
    private hwm: bigint,
    private readonly lookback: bigint,
  ) {}

  /** the highest id read so far: the resume position */
  get position(): bigint {
    return this.hwm;
  }

  /** the lowest id the next read must start after */
  get low(): bigint {
    const low = this.hwm - this.lookback;
    return low < 0n ? 0n : low;
  }

  /** counts rows as sent without sending them (a new client starts after what exists) */
  markSeen(rows: readonly { id: bigint }[]): void {
    for (const r of rows) if (r.id > this.low && r.id <= this.hwm) this.seen.add(r.id);
  }

  /** keeps the rows not sent yet (in id order) and moves the position past them */
  accept<T extends { id: bigint }>(rows: readonly T[]): T[] {
    const fresh = rows.filter((r) => r.id > this.low && !this.seen.has(r.id));
    for (const r of fresh) {
      this.seen.add(r.id);
      if (r.id > this.hwm) this.hwm = r.id;
    }
    const low = this.low;
    for (const id of this.seen) if (id <= low) this.seen.delete(id);
    return fresh;
  }
}
