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
 * With `--transport gloo` (or `--rate`) it measures across network namespaces, each node's link
 * shaped by tc, beside a raw TCP ring on the same links: allreduce-netns.ts. `--help` lists it all.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { RedisCollective } from '@cim-forge/collective';
import { netnsUnavailable, parseRate } from '@cim-forge/collective/testing';
import { median, round, runClusterBench } from './allreduce-cluster.ts';
import { runNetnsBench } from './allreduce-netns.ts';

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

const USAGE = `npm run bench:allreduce -- [options]        all-reduce benchmarks; JSON lines on stdout

  flat gang on one Redis (default):
    --ranks 2,4          gang sizes, one process per rank           --redis URL   (redis://127.0.0.1:6379)
    --sizes 1,4,23,88    float32 MB (10^6 bytes)                     --bucket-mb 4 --wire float32|float16
  simulated cluster on loopback (--shards or --nodes):
    --shards K           K private redis-servers                     --nodes M --ranks-per-node R (2)
    --sizes 0.004,4,23   --wire auto|float32|bfloat16|float16        --result reused|fresh
  across network namespaces (--transport gloo, or --rate; root, Linux):
    --transport gloo|redis   the cross-node transport (gloo: GlooCollective)
    --nodes M (3)        one namespace per node, each linked to a bridge  --ranks-per-node R (1)
    --rate 1gbit         tc tbf rate of each node's link, each way (omit: unshaped veth)
    --compare redis|none also time the Redis transport on the same links (gloo; default redis)
    --sizes 4,23         prints allreduce-gloo lines: busGBps, rawBusGBps (a TCP ring on the same links), busToRaw
  any mode: --reps N (default by size), --help

  e.g. npm run bench:allreduce -- --transport gloo --nodes 3 --rate 1gbit --sizes 4,23,344`;

function fail(message: string): never {
  console.error(`bench:allreduce: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        help: { type: 'boolean', short: 'h' },
        sizes: { type: 'string' },
        ranks: { type: 'string', default: '2,4' },
        reps: { type: 'string' },
        redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
        'bucket-mb': { type: 'string', default: '4' },
        wire: { type: 'string' },
        child: { type: 'string' },
        shards: { type: 'string' },
        nodes: { type: 'string' },
        'ranks-per-node': { type: 'string' },
        result: { type: 'string', default: 'reused' },
        transport: { type: 'string' },
        rate: { type: 'string' },
        compare: { type: 'string', default: 'redis' },
      },
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
}
const values = parse();

/** reps per size when --reps is not given: fewer for the big payloads, to stay near 3 minutes */
const repsFor = (sizeMB: number, reps: number | undefined) => reps ?? (sizeMB >= 50 ? 3 : sizeMB >= 10 ? 4 : 7);
const WARMUP = 2;

const positive = (name: string, v: string | undefined, dflt: number) => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${v}`);
  return n;
};
function sizes(dflt: string): number[] {
  const list = (values.sizes ?? dflt).split(',').map(Number);
  if (list.some((x) => !(x > 0))) fail(`--sizes must be positive MB, comma-separated, got ${values.sizes}`);
  return list;
}
function oneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v !== undefined && !allowed.includes(v as T)) fail(`--${name} must be ${allowed.join(' or ')}, got ${v}`);
  return v as T | undefined;
}
const transport = oneOf('transport', values.transport, ['gloo', 'redis'] as const);
const wire = oneOf('wire', values.wire, ['auto', 'float32', 'float16', 'bfloat16'] as const) ?? 'auto';
const reps = values.reps === undefined ? undefined : positive('reps', values.reps, 1);
if (values.help) console.log(USAGE);
else if (values.child) await runRank(JSON.parse(values.child) as ChildConfig);
else if (transport === 'gloo' || values.rate !== undefined) {
  if (values.shards !== undefined) fail("--shards is the loopback cluster's; across namespaces there is one Redis in the hub");
  if (transport === 'gloo' && wire !== 'auto' && wire !== 'float32') fail(`--wire ${wire}: Gloo always sends float32`);
  if (values.rate !== undefined)
    try {
      parseRate(values.rate);
    } catch (e) {
      fail(`--rate: ${(e as Error).message}`);
    }
  const nodes = positive('nodes', values.nodes, 3);
  if (nodes < 2) fail(`across namespaces --nodes must be ≥ 2 (one namespace per node), got ${nodes}`);
  const why = netnsUnavailable();
  if (why) fail(`cannot build network namespaces here: ${why}`);
  await runNetnsBench({
    transport: transport ?? 'redis',
    nodes,
    ranksPerNode: positive('ranks-per-node', values['ranks-per-node'], 1),
    sizesMB: sizes('4,23'),
    rate: values.rate,
    reps,
    compareRedis: oneOf('compare', values.compare, ['redis', 'none'] as const) === 'redis',
    wire,
  });
} else if (values.shards !== undefined || values.nodes !== undefined || transport === 'redis') {
  await runClusterBench({
    shards: positive('shards', values.shards, 1),
    nodes: positive('nodes', values.nodes, 1),
    ranksPerNode: positive('ranks-per-node', values['ranks-per-node'], 2),
    sizesMB: sizes('0.004,4,23'),
    wire,
    reps,
    result: oneOf('result', values.result, ['reused', 'fresh'] as const)!,
  });
} else await runBench();

async function runBench(): Promise<void> {
  const sizesMB = sizes('1,4,23,88');
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
        reps,
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
