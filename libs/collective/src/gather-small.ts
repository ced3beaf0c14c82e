/**
 * Gather of small payloads (a node name, a few bytes): every rank adds one entry (header = its
 * rank) to one stream and reads until it has all N; every rank returns the same array by rank.
 */
import type { Operation } from './operation.ts';

export async function gatherSmall(op: Operation, data: Uint8Array): Promise<Uint8Array[]> {
  const key = op.keys.gather;
  const got: (Uint8Array | undefined)[] = new Array(op.worldSize);
  op.add(key, String(op.rank), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  const onEntry = (h: string, payload: Buffer) => {
    const r = Number(h);
    if (!(Number.isInteger(r) && r >= 0 && r < op.worldSize) || got[r])
      throw new Error(`${op.name}: unexpected gather entry from rank ${h}`);
    got[r] = new Uint8Array(payload);
  };
  await op.read([{ key, remaining: op.worldSize, onEntry }], Math.max(1, data.length), () =>
    Array.from({ length: op.worldSize }, (_, r) => r).filter((r) => !got[r]),
  );
  await op.finish([key]);
  return got as Uint8Array[];
}
