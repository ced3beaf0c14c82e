/**
 * A Server-Sent Events reader over fetch (as the portal reads streams: with an Authorization
 * header, which EventSource cannot send). `next(pred)` waits for the first message that matches.
 */
export interface SseEvent {
  id: string;
  event: string;
  data: unknown;
}

export class SseClient {
  readonly received: SseEvent[] = [];
  private buffer = '';
  private ended = false;
  private waiters: (() => void)[] = [];
  private readonly abort = new AbortController();
  status = 0;

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const c = new SseClient();
    const res = await fetch(url, { headers, signal: c.abort.signal });
    c.status = res.status;
    if (!res.ok || !res.body) {
      c.ended = true;
      c.errorBody = await res.text();
      return c;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          c.feed(value);
        }
      } catch {
        // aborted
      }
      c.ended = true;
      c.wake();
    })();
    return c;
  }

  errorBody = '';

  get done(): boolean {
    return this.ended;
  }

  private feed(text: string) {
    this.buffer += text;
    let i: number;
    while ((i = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      const m: Partial<SseEvent> & { dataLines?: string[] } = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const [field, ...rest] = line.split(':');
        const value = rest.join(':').replace(/^ /, '');
        if (field === 'id') m.id = value;
        else if (field === 'event') m.event = value;
        else if (field === 'data') (m.dataLines ??= []).push(value);
      }
      if (m.dataLines) this.received.push({ id: m.id ?? '', event: m.event ?? 'message', data: JSON.parse(m.dataLines.join('\n')) });
    }
    this.wake();
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** the first message (from `from` on) matching `pred`; rejects after timeoutMs or when the stream ends without it */
  async next(pred: (e: SseEvent) => boolean, timeoutMs = 20_000, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.slice(from).find(pred);
      if (hit) return hit;
      if (this.ended) throw new Error(`stream ended without the message; got ${JSON.stringify(this.received.map((e) => e.event))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such message within ${timeoutMs} ms; got ${JSON.stringify(this.received.map((e) => e.event))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** resolves when the server ends the stream */
  async waitEnd(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the stream did not end');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close() {
    this.abort.abort();
  }
}
