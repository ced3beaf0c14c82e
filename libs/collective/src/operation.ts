/**
 * One collective operation in flight on one rank: its keys, its deadline, the writes it has
 * issued (pipelined on the writer, awaited together), and the blocking read loop over its
 * streams. A failed write aborts the read at once rather than letting it wait for the deadline.
 *
 * Stream entries have two fields: "h" a short ASCII header, "d" the binary payload.
 */
import { CollectiveTimeoutError, rankList } from './collective-timeout-error.ts';
import { OpKeys } from './op-keys.ts';
import type { RedisLink } from './redis-link.ts';

/** One stream this rank reads during the operation, from its first entry. */
export interface StreamRead {
  key: string;
  /** entries still expected; the handler may raise it (e.g. once a header announces a count) */
  remaining: number;
  onEntry(header: string, payload: Buffer, id: string): void;
}

/** XREAD reply in RESP2 shape with Buffer leaves: [[key, [[id, [field, value, …]], …]], …] */
type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

const EMPTY = Buffer.alloc(0);
/** bytes one XREAD reply should stay under (per stream: COUNT × entry bytes) */
const READ_BYTES = 16 * 1024 * 1024;
/** ms to spend asking Redis where the silent ranks are, when a timeout message is being written */
const DIAGNOSE_MS = 1000;

export class Operation {
  readonly name: string;
  readonly keys: OpKeys;
  readonly deadline: number;
  /** resolves once `finish`'s reply is in: undefined, or the error it failed with (never rejects) */
  counted: Promise<unknown> = Promise.resolve(undefined);
  private readonly writes: Promise<unknown>[] = [];
  private readonly expiring = new Set<string>();
  private failure: unknown;

  constructor(
    private readonly link: RedisLink,
    /** e.g. "all-reduce" */
    kind: string,
    base: string,
    readonly seq: number,
    readonly rank: number,
    readonly worldSize: number,
    readonly timeoutMs: number,
    /** ms an operation key lives if the gang dies before deleting it */
    private readonly ttlMs: number,
    /** how messages name member r (default "rank r") */
    private readonly memberNames?: readonly string[],
  ) {
    this.name = `${kind} ${seq}`;
    this.keys = new OpKeys(base, seq);
    this.deadline = Date.now() + timeoutMs;
    this.track(link.writer.set(OpKeys.marker(base, rank), seq, 'PX', ttlMs));
  }

  /** XADD an entry to `key` (pipelined; not awaited here). */
  add(key: string, header: string, payload: Buffer = EMPTY): void {
    this.track(this.link.writer.xaddBuffer(key, '*', 'h', header, 'd', payload));
    if (!this.expiring.has(key)) {
      this.expiring.add(key);
      this.track(this.link.writer.pexpire(key, this.ttlMs));
    }
  }

  /** XDEL entries this rank has consumed, so their bytes leave Redis before the operation ends. */
  drop(key: string, ids: string[]): void {
    if (ids.length) this.track(this.link.writer.xdel(key, ...ids));
  }

  /**
   * Reads `streams` until each has delivered `remaining` entries, or the deadline passes (then
   * rejects with a CollectiveTimeoutError naming `waitingFor()`, or the ranks that have not
   * started this operation).
   * @param entryBytes typical payload bytes per entry, to size each XREAD's COUNT
   */
  async read(streams: StreamRead[], entryBytes: number, waitingFor: () => number[]): Promise<void> {
    const byKey = new Map(streams.map((s) => [s.key, s]));
    const lastId = new Map(streams.map((s) => [s.key, '0-0']));
    const count = Math.max(1, Math.floor(READ_BYTES / Math.max(1, entryBytes)));
    for (;;) {
      const active = streams.filter((s) => s.remaining > 0);
      if (!active.length) return;
      this.throwIfFailed();
      const ms = Math.ceil(this.deadline - Date.now());
      if (ms <= 0) throw await this.timeout(waitingFor());
      let reply: XReadReply;
      try {
        reply = (await this.link.reader.xreadBuffer(
          'COUNT',
          count,
          'BLOCK',
          ms,
          'STREAMS',
          ...active.map((s) => s.key),
          ...active.map((s) => lastId.get(s.key)!),
        )) as XReadReply;
      } catch (e) {
        this.throwIfFailed();
        throw e;
      }
      this.throwIfFailed();
      for (const [k, entries] of reply ?? []) {
        const key = k.toString();
        const s = byKey.get(key)!;
        for (const [id, fields] of entries) {
          const entryId = id.toString();
          lastId.set(key, entryId);
          if (s.remaining <= 0) continue; // more entries than expected: not ours to judge here
          s.remaining--;
          s.onEntry(fields[1].toString(), fields[3] ?? EMPTY, entryId);
        }
      }
    }
  }

  /** Waits for every write issued so far; rejects with the first failure. */
  async settle(): Promise<void> {
    await Promise.all(this.writes);
    this.throwIfFailed();
  }

  /**
   * Marks this rank done (after settle); the last rank to finish deletes `keys` and the counter.
   * Only call once every rank's reads of `keys` are implied finished by its own "done". Does not
   * wait for the reply (one round trip less per operation): `counted` settles with it.
   */
  async finish(keys: string[]): Promise<void> {
    await this.settle();
    const all = [this.keys.done, ...keys];
    this.counted = this.link.writer.cimFinish(all.length, ...all, this.worldSize, this.ttlMs).then(
      () => undefined,
      (e: unknown) => e,
    );
  }

  private track(p: Promise<unknown>): void {
    this.writes.push(
      p.catch((e: unknown) => {
        if (this.failure === undefined) {
          this.failure = e;
          this.link.reader.disconnect(); // unblock the read loop now; the collective is unusable anyway
        }
      }),
    );
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * The timeout error. Names first the ranks whose progress marker shows they never started this
   * operation (dead, hung or out of step), else the ranks whose data this rank still lacks.
   */
  private async timeout(waitingFor: number[]): Promise<CollectiveTimeoutError> {
    const behind: number[] = [];
    const notes: string[] = [];
    try {
      const base = this.keys.base;
      const markers = await Promise.race([
        this.link.writer.mget(...Array.from({ length: this.worldSize }, (_, r) => OpKeys.marker(base, r))),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), DIAGNOSE_MS).unref()),
      ]);
      markers?.forEach((m, r) => {
        if (r === this.rank) return;
        const who = this.memberNames?.[r] ?? `rank ${r}`;
        if (m === null) {
          behind.push(r);
          notes.push(`${who} has left or expired`);
        } else if (Number(m) < this.seq) {
          behind.push(r);
          notes.push(`${who} is still at operation ${m}`);
        }
      });
    } catch {
      // no diagnosis: fall back to what this rank saw
    }
    const ranks = behind.length ? behind : waitingFor;
    const whom = ranks.length ? rankList(ranks, this.memberNames) : 'the gang';
    const message = `${this.name} timed out after ${this.timeoutMs} ms waiting for ${whom}${notes.length ? ` (${notes.join('; ')})` : ''}`;
    return new CollectiveTimeoutError(message, this.name, this.timeoutMs, ranks);
  }
}
