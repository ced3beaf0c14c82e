/**
 * Reads a Server-Sent Events stream with fetch and a reader (EventSource cannot send the
 * Authorization header, and the token never goes in a URL). Reconnects after a drop with the
 * last id as Last-Event-ID, backing off up to 10 s; stops when the server ends the stream
 * normally (a finished run) or the signal aborts.
 */
export interface SseMessage {
  id: string;
  event: string;
  data: unknown;
}

export interface SseOptions {
  url: string;
  headers: () => Record<string, string>;
  onMessage(m: SseMessage): void;
  /** connection state, for a "live" badge */
  onState?(state: 'connecting' | 'open' | 'closed' | 'error'): void;
  signal: AbortSignal;
}

/** splits text/event-stream bytes into messages; keeps the incomplete tail */
export class SseParser {
  private buffer = '';
  lastId = '';

  push(chunk: string): SseMessage[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const out: SseMessage[] = [];
    let i: number;
    while ((i = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (id !== undefined) this.lastId = id;
      if (data.length === 0) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.join('\n'));
      } catch {
        parsed = data.join('\n');
      }
      out.push({ id: id ?? this.lastId, event, data: parsed });
    }
    return out;
  }
}

export async function readSse(o: SseOptions): Promise<void> {
  const parser = new SseParser();
  let delay = 500;
  while (!o.signal.aborted) {
    o.onState?.('connecting');
    try {
      const res = await fetch(o.url, {
        headers: { ...o.headers(), accept: 'text/event-stream', ...(parser.lastId ? { 'last-event-id': parser.lastId } : {}) },
        signal: o.signal,
      });
      // a 4xx will not get better by retrying (404: not ours, 401: signed out)
      if (res.status >= 400 && res.status < 500) {
        o.onState?.('error');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      o.onState?.('open');
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const m of parser.push(value)) o.onMessage(m);
      }
      // the server ended it: the run finished
      o.onState?.('closed');
      return;
    } catch {
      if (o.signal.aborted) return;
      o.onState?.('error');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(10_000, delay * 2);
    }
  }
}
