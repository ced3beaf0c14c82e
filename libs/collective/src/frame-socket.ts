/**
 * Length-prefixed frames over a stream socket (the node-local group's Unix socket).
 * A frame: 16-byte header [payload bytes u32, seq u32, kind u32, from rank u32] (little-endian),
 * then the payload. `onFrame` gets each complete frame; payloads are fresh copies.
 */
import type { Socket } from 'node:net';

export interface Frame {
  seq: number;
  kind: number;
  from: number;
  payload: Buffer;
}

const HEADER = 16;

export function writeFrame(socket: Socket, f: { seq: number; kind: number; from: number; payload?: Uint8Array }): void {
  const payload = f.payload ?? new Uint8Array(0);
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(payload.byteLength, 0);
  header.writeUInt32LE(f.seq, 4);
  header.writeUInt32LE(f.kind, 8);
  header.writeUInt32LE(f.from, 12);
  socket.write(header);
  if (payload.byteLength) socket.write(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
}

/** Calls `onFrame` for every complete frame that arrives on `socket`. */
export function readFrames(socket: Socket, onFrame: (f: Frame) => void): void {
  const chunks: Buffer[] = [];
  let buffered = 0;
  let header: { length: number; seq: number; kind: number; from: number } | undefined;
  const take = (n: number): Buffer => {
    // n ≤ buffered: the first n bytes, removed from the queue
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = chunks[0];
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) chunks.shift();
      else chunks[0] = c.subarray(k);
    }
    buffered -= n;
    return out;
  };
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    buffered += d.length;
    for (;;) {
      if (!header) {
        if (buffered < HEADER) return;
        const h = take(HEADER);
        header = { length: h.readUInt32LE(0), seq: h.readUInt32LE(4), kind: h.readUInt32LE(8), from: h.readUInt32LE(12) };
      }
      if (buffered < header.length) return;
      const payload = take(header.length);
      const { seq, kind, from } = header;
      header = undefined;
      onFrame({ seq, kind, from, payload });
    }
  });
}
