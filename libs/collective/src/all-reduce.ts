/**
 * All-reduce = reduce-scatter then all-gather, through Redis streams (one operation's part).
 *
 * The flat array is cut into buckets and each bucket into N chunks (BucketPlan). Rank r:
 *  1. sends chunk j of every bucket to stream rs:j (j ≠ r), bucket by bucket, pipelined;
 *  2. reduces chunk r of each bucket as soon as the N−1 other chunks have arrived: a float32 sum
 *     in rank order 0, 1, …, N−1 (never arrival order, so every rank gets the same bits), then
 *     ÷ N for a mean, and publishes it on ag:r;
 *  3. reads the reduced chunks of every other reducer from ag:j.
 * Reads of rs:r and ag:* share one blocking XREAD. Bytes per rank: S written, 2(N−1)/N·S read.
 *
 * With the float16 wire, every value is rounded to half once when sent (a reducer's own chunk
 * too, so the result does not depend on who reduces), summed in float32, and the reduced chunk
 * is rounded to half again; every rank, the reducer included, keeps the half-rounded result.
 */
import { BucketPlan } from './bucket-plan.ts';
import type { Operation, StreamRead } from './operation.ts';
import { sumInRankOrder } from './sum-in-rank-order.ts';
import type { WireFormat } from './wire-format.ts';

export async function allReduce(
  op: Operation,
  data: Float32Array,
  mode: 'sum' | 'mean',
  bucketBytes: number,
  wire: WireFormat,
  /** where the result goes (a fresh array if omitted); must not overlap `data`, whose chunks are sent as views */
  into?: Float32Array,
): Promise<Float32Array> {
  const { rank: r, worldSize: N, keys } = op;
  const plan = new BucketPlan(data.length, N, bucketBytes);
  const out = into ?? new Float32Array(data.length);
  const header = (b: number, from: number) => `${b} ${from} ${data.length}`;

  // 1. reduce-scatter, sending side
  for (let b = 0; b < plan.bucketCount; b++) {
    for (let j = 0; j < N; j++) {
      const c = plan.chunk(b, j);
      if (j !== r && c.end > c.start) op.add(keys.reduceScatter(j), header(b, r), wire.encode(data.subarray(c.start, c.end)));
    }
  }

  // 2. reduce-scatter, reducing side: contributions[b][s] = rank s's chunk r of bucket b
  const mine = plan.bucketsWithChunk(r);
  const contributions = new Map<number, (Float32Array | undefined)[]>(mine.map((b) => [b, new Array<Float32Array | undefined>(N)]));
  const consumed = new Map<number, string[]>();
  const reduce = (b: number) => {
    const c = plan.chunk(b, r);
    const parts = contributions.get(b)!;
    const own = data.subarray(c.start, c.end);
    parts[r] = wire.name === 'float32' ? own : wire.decode(wire.encode(own));
    // float32 wire: the sum is the result, so accumulate straight into `out`
    const acc = wire.name === 'float32' ? out.subarray(c.start, c.end) : new Float32Array(c.end - c.start);
    sumInRankOrder(parts as Float32Array[], acc, mode === 'mean' ? N : 1);
    const payload = wire.encode(acc);
    if (N > 1) op.add(keys.allGather(r), header(b, r), payload);
    if (wire.name !== 'float32') out.set(wire.decode(payload), c.start);
    contributions.delete(b);
    op.drop(keys.reduceScatter(r), consumed.get(b) ?? []);
    consumed.delete(b);
  };
  if (N === 1) mine.forEach(reduce);

  const check = (from: number, b: number, length: number, payload: Buffer, c: { start: number; end: number }, what: string) => {
    if (length !== data.length) {
      throw new Error(
        `${op.name}: rank ${from} all-reduces ${length} elements, rank ${r} has ${data.length}: every rank must pass an array of the same length`,
      );
    }
    if (!(b >= 0 && b < plan.bucketCount) || payload.length !== (c.end - c.start) * wire.bytesPerElement) {
      throw new Error(
        `${op.name}: malformed ${what} from rank ${from} (bucket ${b}, ${payload.length} bytes): ranks disagree on bucketBytes or wire format?`,
      );
    }
  };
  const streams: StreamRead[] = [];
  if (N > 1 && mine.length) {
    streams.push({
      key: keys.reduceScatter(r),
      remaining: mine.length * (N - 1),
      onEntry: (h, payload, id) => {
        const [b, from, length] = h.split(' ').map(Number);
        check(from, b, length, payload, plan.chunk(b, r), 'chunk');
        const parts = contributions.get(b);
        if (!parts || from === r || !(from >= 0 && from < N) || parts[from])
          throw new Error(`${op.name}: unexpected chunk of bucket ${b} from rank ${from}`);
        parts[from] = wire.decode(payload);
        consumed.set(b, [...(consumed.get(b) ?? []), id]);
        if (parts.filter((p) => p).length === N - 1) reduce(b);
      },
    });
  }
  // 3. all-gather: reduced chunk j of every bucket from reducer j
  for (let j = 0; j < N; j++) {
    const buckets = plan.bucketsWithChunk(j);
    if (j === r || !buckets.length) continue;
    streams.push({
      key: keys.allGather(j),
      remaining: buckets.length,
      onEntry: (h, payload) => {
        const [b, from, length] = h.split(' ').map(Number);
        const c = plan.chunk(b, j);
        check(from, b, length, payload, c, 'reduced chunk');
        if (from !== j) throw new Error(`${op.name}: rank ${from} published on rank ${j}'s all-gather stream`);
        out.set(wire.decode(payload), c.start);
      },
    });
  }
  // whom this rank still waits for: a contributor of its own chunks, else a reducer
  const waitingFor = () => {
    const silent = new Set<number>();
    for (const parts of contributions.values()) for (let s = 0; s < N; s++) if (s !== r && !parts[s]) silent.add(s);
    if (!silent.size)
      for (const s of streams)
        if (s.remaining > 0 && s.key !== keys.reduceScatter(r)) silent.add(Number(s.key.slice(s.key.lastIndexOf(':') + 1)));
    return [...silent].sort((a, b) => a - b);
  };
  const entryBytes = (plan.bucketElements / N) * wire.bytesPerElement;
  await op.read(streams, entryBytes, waitingFor);

  // every rank's "done" implies it read everything it needed from these streams
  const all: string[] = [];
  for (let j = 0; j < N; j++) all.push(keys.reduceScatter(j), keys.allGather(j));
  await op.finish(all);
  return out;
}
