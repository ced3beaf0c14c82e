/**
 * One Server-Sent Events response (text/event-stream, https://html.spec.whatwg.org/#server-sent-events):
 * takes over the reply, writes `id:`/`event:`/`data:` messages, sends a comment line every
 * `heartbeatMs` so proxies keep the connection, and ends the response when the client leaves,
 * when it stops reading (more than MAX_BUFFERED bytes waiting), or on close(). close() is safe to
 * call twice; `end(reason, message)` sends a last `event: end` {reason, message} first.
 * A reader that pages through history (a resume) awaits `drained()` between pages, so it never
 * reads faster than the client takes the bytes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** a client that leaves this many bytes unread is cut off */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** above this many unread bytes, `drained()` waits for the client */
const HIGH_WATER = 256 * 1024;

/** where a stream's poll writes: page by page, stopping when the client has gone */
export interface SseSink {
  send(m: SseMessage): void;
  readonly isClosed: boolean;
  /** resolves once the client has taken what waits (or the connection closed) */
  drained(): Promise<void>;
}

export interface SseMessage {
  id: string;
  event: string;
  data: unknown;
}

export class SseConnection implements SseSink {
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onGone: (() => void)[] = [];
  private readonly drainWaiters = new Set<() => void>();

  constructor(
    request: FastifyRequest,
    private readonly reply: FastifyReply,
    heartbeatMs: number,
  ) {
    reply.hijack();
    // headers set by hooks before the hijack (request id, CORS) go out with ours
    const headers = { ...reply.getHeaders() } as Record<string, string>;
    reply.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx: do not buffer the stream
      'x-accel-buffering': 'no',
    });
    reply.raw.write(': stream open\n\n');
    this.heartbeat = setInterval(() => this.write(': keepalive\n\n'), heartbeatMs);
    request.raw.on('close', () => this.close());
    reply.raw.on('close', () => this.close());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** called once when the connection ends, for whatever reason */
  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.onGone.push(fn);
  }

  send(m: SseMessage): void {
    // data may not hold a bare newline; JSON.stringify never emits one
    this.write(`id: ${m.id}\nevent: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
  }

  drained(): Promise<void> {
    const raw = this.reply.raw;
    if (this.closed || raw.writableLength <= HIGH_WATER) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        raw.off('drain', done);
        this.drainWaiters.delete(done);
        resolve();
      };
      raw.on('drain', done);
      this.drainWaiters.add(done);
    });
  }

  /** a last `event: end` saying why the server ends the stream, then close */
  end(reason: string, message: string): void {
    this.write(`event: end\ndata: ${JSON.stringify({ reason, message })}\n\n`);
    this.close();
  }

  private write(text: string): void {
    if (this.closed) return;
    if (this.reply.raw.writableLength > MAX_BUFFERED) {
      this.close();
      return;
    }
    this.reply.raw.write(text);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.reply.raw.writableEnded) this.reply.raw.end();
    for (const fn of [...this.drainWaiters]) fn();
    for (const fn of this.onGone.splice(0)) fn();
  }
}
