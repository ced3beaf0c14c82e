/**
 * One Server-Sent Events response (text/event-stream, https://html.spec.whatwg.org/#server-sent-events):
 * takes over the reply, writes `id:`/`event:`/`data:` messages, sends a comment line every
 * `heartbeatMs` so proxies keep the connection, and ends the response when the client leaves,
 * when it stops reading (more than MAX_BUFFERED bytes waiting), or on close(). close() is safe to
 * call twice.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** a client that leaves this many bytes unread is cut off */
const MAX_BUFFERED = 8 * 1024 * 1024;

export interface SseMessage {
  id: string;
  event: string;
  data: unknown;
}

export class SseConnection {
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onGone: (() => void)[] = [];

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
    for (const fn of this.onGone.splice(0)) fn();
  }
}
