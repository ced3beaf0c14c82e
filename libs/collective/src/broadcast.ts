/**
 * Broadcast: rank 0 writes its bytes to one stream in messages of `messageBytes` (header
 * "index total count"); every other rank reads them all. Rank 0 does not wait for the readers;
 * the last reader to finish deletes the stream.
 */
import type { Operation } from './operation.ts';

export async function broadcast(op: Operation, data: Uint8Array, messageBytes: number): Promise<Uint8Array> {
  const key = op.keys.broadcast;
  if (op.rank === 0) {
    const count = Math.max(1, Math.ceil(data.length / messageBytes));
    for (let i = 0; i < count; i++) {
      const start = i * messageBytes;
      const end = Math.min(data.length, start + messageBytes);
      op.add(key, `${i} ${data.length} ${count}`, Buffer.from(data.buffer, data.byteOffset + start, end - start));
    }
    await op.finish([key]);
    return data;
  }
  let out: Uint8Array | undefined;
  let received = 0;
  const stream = {
    key,
    remaining: 1, // raised to the announced count by the first message
    onEntry: (h: string, payload: Buffer) => {
      const [i, total, count] = h.split(' ').map(Number);
      if (!out) {
        out = new Uint8Array(total);
        stream.remaining += count - 1;
      }
      const start = i * messageBytes;
      if (total !== out.length || !(i >= 0 && i < count) || payload.length !== Math.max(0, Math.min(total, start + messageBytes) - start)) {
        throw new Error(
          `${op.name}: malformed message ${i} from rank 0 (${payload.length} bytes of ${total}): ranks disagree on bucketBytes?`,
        );
      }
      out.set(payload, start);
      received++;
    },
  };
  await op.read([stream], messageBytes, () => [0]);
  await op.finish([key]);
  if (!out || received === 0) throw new Error(`${op.name}: no data from rank 0`);
  return out;
}
