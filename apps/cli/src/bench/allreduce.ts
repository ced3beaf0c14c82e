/**
 * All-reduce over Redis Streams: `npm run bench:allreduce [-- --sizes 1,4 --ranks 2 --reps 3 --redis URL --bucket-mb 4 --wire float16]`.
 * Every rank is its own child process (they really run concurrently; with more ranks than cores,
 * plus redis-server, they are time-sliced: the output says so). One JSON line per (ranks, size):
 *   secondsPerAllReduce   median over reps (after 2 warm-ups) of the slowest rank's allReduceMean (after a barrier)
 *   algBandwidthMBps      S / t
 *   busBandwidthMBps      S / t · 2(N−1)/N (the bytes each rank must move in any all-reduce)
 *   rawSecondsPerOp       in the same run, on the same Redis, with the same client: each rank XADDs
 *                         its S bytes (messages of the all-reduce's chunk size) while it reads a
 *                         peer's S bytes with XREAD BLOCK; no reduction; median of the slowest rank
 *   rawMBps               S / rawSecondsPerOp
 *   busToRaw              busBandwidthMBps / rawMBps (aim: ≥ 0.5)
 * MB = 10^6 bytes; payloads 1, 4, 23 (ViT-Tiny gradients) and 88 MB (ViT-Small).
 *
 * With `--shards K` and/or `--nodes M` it measures the simulated cluster instead (K private
 * redis-servers, M nodes × `--ranks-per-node` R ranks, node-local sums): allreduce-cluster.ts.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisCollective } from '@cim-forge/collective';
import { runClusterBench } from './allreduce-cluster.ts';

interface ChildConfig {
  rank: number;
  worldSize: number;
  sizesMB: number[];
  reps: number | undefined;
  redisUrl: string;
  keyPrefix: string;
  runId: string;
  bucketBytes: number;
  wire: 'float32' | 'float16';
}

/** one rank's timings for one payload size: seconds per rep */
interface ChildReport {
  sizeMB: number;
  allReduce: number[];
  raw: number[];
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,4,23,88' },
    ranks: { type: 'string', default: '2,4' },
    reps: { type: 'string' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    'bucket-mb': { type: 'string', default: '4' },
    wire: { type: 'string' },
    child: { type: 'string' },
    shards: { type: 'string' },
    nodes: { type: 'string' },
    'ranks-per-node': { type: 'string', default: '2' },
    result: { type: 'string', default: 'reused' },
  },
});

/** reps per size when --reps is not given: fewer for the big payloads, to stay near 3 minutes */
const repsFor = (sizeMB: number, reps: number | undefined) => reps ?? (sizeMB >= 50 ? 3 : sizeMB >= 10 ? 4 : 7);
const WARMUP = 2;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 4) => +x.toPrecision(digits);

const positive = (name: string, v: string | undefined, dflt: number) => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
};
function badResult(v: string): never {
  throw new Error(`--result must be reused or fresh, got ${v}`);
}
if (values.child) await runRank(JSON.parse(values.child) as ChildConfig);
else if (values.shards !== undefined || values.nodes !== undefined) {
  const wire = values.wire === 'float32' || values.wire === 'float16' || values.wire === 'bfloat16' ? values.wire : 'auto';
  await runClusterBench({
    shards: positive('shards', values.shards, 1),
    nodes: positive('nodes', values.nodes, 1),
    ranksPerNode: positive('ranks-per-node', values['ranks-per-node'], 2),
    sizesMB: (process.argv.includes('--sizes') ? values.sizes : '0.004,4,23').split(',').map(Number),
    wire,
    reps: values.reps ? Number(values.reps) : undefined,
    result: values.result === 'fresh' ? 'fresh' : values.result === 'reused' ? 'reused' : badResult(values.result),
  });
} else await runBench();

async function runBench(): Promise<void> {
  const sizesMB = values.sizes.split(',').map(Number);
  const ranks = values.ranks.split(',').map(Number);
  const cores = availableParallelism();
  const bucketBytes = Math.round(Number(values['bucket-mb']) * 1024 * 1024);
  const wire = values.wire === 'float16' ? 'float16' : 'float32'; // the flat bench: float32 unless asked
  const keyPrefix = `cimbench:${process.pid}`;
  const self = fileURLToPath(import.meta.url);
  for (const N of ranks) {
    const runId = `allreduce-${N}-${Date.now()}`;
    const reports = new Map<number, ChildReport[]>();
    const children = Array.from({ length: N }, (_, rank) => {
      const config: ChildConfig = {
        rank,
        worldSize: N,
        sizesMB,
        reps: values.reps ? Number(values.reps) : undefined,
        redisUrl: values.redis,
        keyPrefix,
        runId,
        bucketBytes,
        wire,
      };
      const child = spawn(process.execPath, ['--import', 'tsx', self, '--child', JSON.stringify(config)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const report = JSON.parse(line) as ChildReport;
        const all = reports.get(report.sizeMB) ?? [];
        all.push(report);
        reports.set(report.sizeMB, all);
        if (all.length === N) print(N, report.sizeMB, all);
      });
      return new Promise<number | null>((resolve) => child.on('exit', resolve));
    });
    const codes = await Promise.all(children);
    if (codes.some((c) => c !== 0)) throw new Error(`bench ranks exited with ${codes.join(', ')}`);
  }

  function print(N: number, sizeMB: number, all: ChildReport[]): void {
    // per rep, the slowest rank decides; then the median over reps
    const slowest = (pick: (r: ChildReport) => number[]) => pick(all[0]).map((_, i) => Math.max(...all.map((r) => pick(r)[i])));
    const t = median(slowest((r) => r.allReduce));
    const tRaw = median(slowest((r) => r.raw));
    const S = sizeMB * 1e6;
    const alg = S / t / 1e6;
    const bus = (alg * 2 * (N - 1)) / N;
    const raw = S / tRaw / 1e6;
    console.log(
      JSON.stringify({
        bench: 'allreduce',
        ranks: N,
        sizeMB,
        bucketMB: bucketBytes / 2 ** 20,
        wire,
        reps: all[0].allReduce.length,
        secondsPerAllReduce: round(t),
        algBandwidthMBps: round(alg),
        busBandwidthMBps: round(bus),
        rawSecondsPerOp: round(tRaw),
        rawMBps: round(raw),
        busToRaw: round(bus / raw, 3),
        cores,
        oversubscribed: N + 1 > cores,
        ...(N + 1 > cores ? { note: `${N} rank processes + redis-server share ${cores} cores: time-sliced, not parallel` } : {}),
      }),
    );
  }
}

async function runRank(c: ChildConfig): Promise<void> {
  const collective = await RedisCollective.join({
    redisUrl: c.redisUrl,
    keyPrefix: c.keyPrefix,
    runId: c.runId,
    rank: c.rank,
    worldSize: c.worldSize,
    bucketBytes: c.bucketBytes,
    wire: c.wire,
    timeoutMs: 120_000,
  });
  // the raw baseline's own connections: one for writes, one for blocking reads, as the collective has
  const writer = new Redis(c.redisUrl, { protocol: 2 });
  const reader = new Redis(c.redisUrl, { protocol: 2 });
  const chunkBytes = Math.floor(c.bucketBytes / 4 / c.worldSize) * 4;
  for (const sizeMB of c.sizesMB) {
    const data = new Float32Array(Math.round((sizeMB * 1e6) / 4));
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i + c.rank);
    const reps = repsFor(sizeMB, c.reps);
    const allReduce: number[] = [];
    const raw: number[] = [];
    for (let i = -WARMUP; i < reps; i++) {
      // i < 0 warms up (JIT, heap and Redis allocator growth, script cache)
      await collective.barrier();
      let t0 = performance.now();
      await collective.allReduceMean(data);
      if (i >= 0) allReduce.push((performance.now() - t0) / 1000);
      await collective.barrier();
      t0 = performance.now();
      const written = await rawExchange(writer, reader, `${c.keyPrefix}:${c.runId}:raw:${sizeMB}:${i}`, c, data, chunkBytes);
      if (i >= 0) raw.push((performance.now() - t0) / 1000);
      await collective.barrier(); // the peer has read my stream
      await writer.del(written);
    }
    process.stdout.write(`${JSON.stringify({ sizeMB, allReduce, raw } satisfies ChildReport)}\n`);
  }
  await collective.barrier();
  writer.disconnect();
  reader.disconnect();
  await collective.close();
}

/** Writes `data` to stream base:rank in chunkBytes messages while reading base:(rank+1) to the end; resolves with the stream it wrote. */
async function rawExchange(
  writer: Redis,
  reader: Redis,
  base: string,
  c: ChildConfig,
  data: Float32Array,
  chunkBytes: number,
): Promise<string> {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const mine = `${base}:${c.rank}`;
  const peer = `${base}:${(c.rank + 1) % c.worldSize}`;
  const writes: Promise<unknown>[] = [];
  for (let off = 0; off < bytes.length; off += chunkBytes)
    writes.push(writer.xaddBuffer(mine, '*', 'd', bytes.subarray(off, off + chunkBytes)));
  const count = Math.max(1, Math.floor((16 * 1024 * 1024) / chunkBytes));
  let got = 0;
  let last = '0-0';
  while (got < bytes.length) {
    const reply = (await reader.xreadBuffer('COUNT', count, 'BLOCK', 60_000, 'STREAMS', peer, last)) as
      [Buffer, [Buffer, Buffer[]][]][] | null;
    if (!reply) throw new Error(`raw read of ${peer} timed out`);
    for (const [id, fields] of reply[0][1]) {
      got += fields[1].length;
      last = id.toString();
    }
  }
  await Promise.all(writes);
  return mine;
}
