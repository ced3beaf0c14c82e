/**
 * The two connections of one collective: `writer` for every command that returns at once, and
 * `reader`, dedicated to blocking reads (XREAD BLOCK, BLPOP), so a read that waits on the gang
 * never delays a write. Both fail fast: no offline queue, no reconnection, no resend; a dropped
 * connection ends the link (`lost`) and the collective with it, which is what a gang wants
 * (a rank that missed messages cannot rejoin the step; the run restarts from a checkpoint).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { registerCollectiveScripts, type CollectiveScripts } from './collective-scripts.ts';
import { maskRedisUrl, RedisUnreachableError } from './redis-unreachable-error.ts';

/** ioredis messages that mean the server is out of reach (as opposed to a reply error). */
const CONNECTION_TROUBLE = new RegExp(
  [
    'Connection is closed',
    "Stream isn't writeable",
    'ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE',
    'max retries per request',
    'Command timed out',
    'connect ETIMEDOUT',
    'Socket closed',
  ].join('|'),
  'i',
);

export class RedisLink {
  /** the URL with any password masked, for messages */
  readonly url: string;
  readonly writer: Redis & CollectiveScripts;
  readonly reader: Redis;
  /** why the link is dead, once either connection has ended without `close()` */
  lost: string | undefined;
  private lastError: string | undefined;
  private closing: Promise<void> | undefined;

  /**
   * @param url redis:// URL
   * @param commandTimeoutMs ms a non-blocking command may wait for its reply (a hung server)
   * @param name connection name prefix, shown by CLIENT LIST
   */
  constructor(url: string, commandTimeoutMs: number, name: string) {
    this.url = maskRedisUrl(url);
    const failFast: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      autoResendUnfulfilledCommands: false,
      connectTimeout: Math.min(10_000, Math.max(1000, commandTimeoutMs)),
      protocol: 2,
      disableClientInfo: true,
    };
    this.writer = registerCollectiveScripts(
      new Redis(url, { ...failFast, commandTimeout: commandTimeoutMs, connectionName: `${name}:writer` }),
    );
    // blockingTimeout: a client-side deadline (BLOCK ms + 100 ms) for blocking reads, should the
    // server hang or the TCP connection die silently
    this.reader = new Redis(url, { ...failFast, blockingTimeout: commandTimeoutMs, connectionName: `${name}:reader` });
    for (const [c, other] of [
      [this.writer, this.reader],
      [this.reader, this.writer],
    ] as const) {
      c.on('error', (e: Error) => {
        this.lastError = e.message;
      });
      c.on('end', () => {
        if (this.closing) return;
        this.lost ??= this.lastError ?? 'the connection was closed';
        other.disconnect();
      });
    }
  }

  /**
   * Connects both; rejects with a RedisUnreachableError (and leaves nothing open) if either fails
   * or is not ready within `timeoutMs` (a server that accepts connections but does not answer).
   */
  async connect(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([this.writer.connect(), this.reader.connect()]),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      const reason = this.lastError ?? (e as Error).message;
      this.writer.disconnect();
      this.reader.disconnect();
      throw new RedisUnreachableError(this.url, reason);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The error to report for `e`, raised during `operation`: Redis unreachable when the link is
   * dead or `e` is a connection failure, "rejected" for a Redis reply error, `e` itself otherwise.
   */
  explain(e: unknown, operation: string): Error {
    if (e instanceof RedisUnreachableError) return e;
    const err = e instanceof Error ? e : new Error(String(e));
    if (err.name === 'ReplyError') return new Error(`Redis at ${this.url} rejected ${operation}: ${err.message}`, { cause: err });
    if (this.lost) return new RedisUnreachableError(this.url, this.lost, operation);
    if (CONNECTION_TROUBLE.test(err.message)) return new RedisUnreachableError(this.url, this.lastError ?? err.message, operation);
    return err;
  }

  /** Quits the writer (after its pending replies) and drops the reader (which may be blocked). Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      this.reader.disconnect();
      if (this.writer.status === 'ready') await this.writer.quit().catch(() => this.writer.disconnect());
      else this.writer.disconnect();
    })());
  }
}
