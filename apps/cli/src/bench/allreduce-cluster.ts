/**
 * The simulated cluster side of `npm run bench:allreduce -- --shards K --nodes M [--ranks-per-node R]
 * [--sizes 0.004,4,23] [--wire auto|float32|bfloat16] [--reps N] [--result reused|fresh]`: starts K private redis-servers
 * on free loopback ports, M × R rank processes (node "node-m" holds R ranks), and all-reduces
 * through joinCollective exactly as `cim pretrain --nodes M --redis …` does; each rank all-reduces
 * into one result array it keeps across reps (allReduceMeanInto, as the trainer does), or with
 * `--result fresh` into a new array each time (allReduceMean). Prints JSON lines:
 *   { bench: "allreduce-kernels", … } in this process, 23 MB arrays: the float32 rank-order sum of
 *                                     R arrays (sumGBps, GB/s of input; the scalar loop beside it),
 *                                     bfloat16 encode/decode (GB/s of float32), and one-way MB/s of
 *                                     a Unix socket and of loopback TCP (the raw links)
 *   { bench: "allreduce-local", … }   --nodes 1, per size: the node-local all-reduce alone; linkGBps
 *                                     = effective node-local bandwidth 2·S·(R−1)/R / t; bLinkGBps =
 *                                     the model's B_link, 2·(R−1)·S / (t − R·S/B_sum); bCopyGBps =
 *                                     the shared-memory model's B_copy, 2·S / (t − S/B_sum) for a
 *                                     reduce-scatter (each rank sums 1/R of R arrays), 2·S / (t − R·S/B_sum)
 *                                     when the leader sums alone; memoryGBps = (5R + 1)·S / t, the
 *                                     bytes a reduce-scatter read and wrote a second (a floor on the
 *                                     node's memory bandwidth); lane: shm (mmap or pread, and
 *                                     `reduce-scatter` or `leader sums`) or socket
 *   { bench: "allreduce-cluster", … } --nodes M > 1, per size: median over reps of the slowest
 *                                     rank's seconds, algorithm bandwidth S/t, the leaders' bus
 *                                     bandwidth 2(M−1)/M·S_w/t beside raw loopback TCP, and the
 *                                     bytes the busiest shard moved (in + out) per second,
 *                                     M·S_w·(1 + 2(M−1)/M)/K / t
 * Sizes are float32 MB (10^6 bytes); 0.004 MB measures the per-operation overhead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  decodeBfloat16,
  encodeBfloat16,
  joinCollective,
  NodeLocalCollective,
  resolveWire,
  shmAccess,
  startLocalRedisServers,
  sumInRankOrder,
  sumInRankOrderScalar,
  useShmAccess,
  useSimdKernels,
  type WireName,
} from '@cim-forge/collective';
import { processEnv, SettingsReader } from '@cim-forge/settings';

/**
 * The benchmark's switches, read through the settings door by every bench process (this one, the
 * flat bench's ranks and the cluster's ranks all load this module) and handed to the collective as
 * options: CIM_SIMD=off (the scalar sums), CIM_SHM=pread (pread/pwrite lanes) or off (sockets),
 * CIM_SHM_REDUCE=leader (the node leader sums every rank's gradients alone, no reduce-scatter).
 */
function applyBenchSwitches(): { simd: 'on' | 'off'; shm: 'mmap' | 'pread' | 'off'; reduce: 'scatter' | 'leader' } {
  const r = new SettingsReader(processEnv(), 'cli');
  const switches = {
    simd: r.oneOf('CIM_SIMD', ['on', 'off'] as const),
    shm: r.oneOf('CIM_SHM', ['mmap', 'pread', 'off'] as const),
    reduce: r.oneOf('CIM_SHM_REDUCE', ['scatter', 'leader'] as const),
  };
  r.done('bench:allreduce');
  useSimdKernels(switches.simd === 'on');
  useShmAccess(switches.shm === 'pread' ? 'pread' : 'mmap');
  return switches;
}
const benchSwitches = applyBenchSwitches();

export interface ClusterBenchOptions {
  shards: number;
  nodes: number;
  ranksPerNode: number;
  sizesMB: number[];
  wire: WireName | 'auto';
  reps: number | undefined;
  /** "reused": allReduceMeanInto one array kept across reps (as the trainer does); "fresh": allReduceMean, a new result each time */
  result: 'reused' | 'fresh';
}

export interface RankConfig {
  rank: number;
  worldSize: number;
  /** ranks that share it reduce on the node first (NodeLocalCollective); omit: a flat gang */
  nodeName?: string;
  redisUrls: string[];
  /** the cross-node transport (default redis) */
  transport?: 'redis' | 'gloo';
  /** the address this rank listens on (gloo: its node's veth address) */
  host?: string;
  runId: string;
  sizesMB: number[];
  wire: WireName | 'auto';
  reps: number | undefined;
  result: 'reused' | 'fresh';
}

/** the shared-memory model's B_copy in GB/s: 2·S / (t − the seconds of summing), null when the sum alone is slower than t */
const bCopy = (t: number, S: number, sumS: number) => (t > sumS ? round((2 * S) / (t - sumS) / 1e9) : null);

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const round = (x: number, digits = 4) => +x.toPrecision(digits);
export const repsFor = (sizeMB: number, reps: number | undefined) => reps ?? (sizeMB >= 50 ? 3 : sizeMB >= 10 ? 5 : 9);
/** per rep the slowest rank decides; then the median over reps */
export const slowestMedian = (all: number[][]) => median(all[0].map((_, i) => Math.max(...all.map((s) => s[i]))));

export async function runClusterBench(o: ClusterBenchOptions): Promise<void> {
  const cores = availableParallelism();
  const kernels = await localReduceSpeed(o.ranksPerNode);
  console.log(JSON.stringify({ bench: 'allreduce-kernels', ranksPerNode: o.ranksPerNode, ...kernels, cores }));
  const servers = await startLocalRedisServers(o.shards);
  try {
    const N = o.nodes * o.ranksPerNode;
    const runId = `bench-${process.pid}-${Date.now()}`;
    const configs = Array.from({ length: N }, (_, rank) => ({
      rank,
      worldSize: N,
      nodeName: `node-${Math.floor(rank / o.ranksPerNode)}`,
      redisUrls: servers.urls,
      runId,
      sizesMB: o.sizesMB,
      wire: o.wire,
      reps: o.reps,
      result: o.result,
    }));
    await runRanks(configs, (args) => spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }), print);
  } finally {
    await servers.stop();
  }

  function print(sizeMB: number, all: number[][], lane: string): void {
    const t = slowestMedian(all);
    const wire = resolveWire(o.wire, true);
    const M = o.nodes;
    const R = o.ranksPerNode;
    const S = sizeMB * 1e6;
    if (M === 1) {
      const sumS = (R * S) / (kernels.sumGBps * 1e9);
      console.log(
        JSON.stringify({
          bench: 'allreduce-local',
          ranksPerNode: R,
          lane,
          result: o.result,
          sizeMB,
          reps: all[0].length,
          secondsPerAllReduce: round(t),
          linkGBps: round((2 * S * (R - 1)) / R / t / 1e9),
          sumGBps: kernels.sumGBps,
          bLinkGBps: t > sumS ? round((2 * (R - 1) * S) / (t - sumS) / 1e9) : null,
          bCopyGBps: bCopy(t, S, lane.includes('reduce-scatter') ? S / (kernels.sumGBps * 1e9) : sumS),
          // what a reduce-scatter made the memory bus carry: R ranks × (2 copies + a sum) = (5R + 1)·S
          memoryGBps: lane.includes('reduce-scatter') ? round(((5 * R + 1) * S) / t / 1e9) : null,
          cores,
          oversubscribed: R > cores,
        }),
      );
      return;
    }
    const Sw = (sizeMB * 1e6 * (wire === 'float32' ? 4 : 2)) / 4;
    const shardBytes = M > 1 ? (M * Sw * (1 + (2 * (M - 1)) / M)) / o.shards : 0;
    const N = M * o.ranksPerNode;
    console.log(
      JSON.stringify({
        bench: 'allreduce-cluster',
        shards: o.shards,
        nodes: M,
        ranksPerNode: o.ranksPerNode,
        wire: M > 1 ? wire : 'none (one node)',
        result: o.result,
        sizeMB,
        reps: all[0].length,
        secondsPerAllReduce: round(t),
        algBandwidthMBps: round((sizeMB * 1e6) / t / 1e6),
        busBandwidthMBps: round((((2 * (M - 1)) / M) * Sw) / t / 1e6),
        rawTcpMBps: kernels.tcpMBps,
        busToRaw: round((((2 * (M - 1)) / M) * Sw) / t / 1e6 / kernels.tcpMBps, 3),
        busiestShardMBps: round(shardBytes / t / 1e6),
        cores,
        oversubscribed: N + o.shards > cores,
      }),
    );
  }
}

/**
 * Starts one process per config (`spawnRank` gets node's argv for this module's rank side, and may
 * wrap it, e.g. in `ip netns exec`), collects each rank's seconds per size and calls `onSize` once
 * every rank reported a size (with rank 0's node-local lane so far, '' without one); resolves when
 * all exited, rejects when one failed.
 */
export async function runRanks(
  configs: RankConfig[],
  spawnRank: (args: string[], config: RankConfig) => ChildProcess,
  onSize: (sizeMB: number, all: number[][], lane: string) => void,
): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const reports = new Map<number, number[][]>();
  let lane = '';
  const children = configs.map((config) => {
    const child = spawnRank(['--import', 'tsx', self, JSON.stringify(config)], config);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const r = JSON.parse(line) as { sizeMB: number; seconds: number[]; lane?: string; reduce?: string };
      if (r.lane) {
        if (config.rank === 0) lane = r.lane;
        return;
      }
      // who summed this size's all-reduces on shared memory (rank 0's node)
      if (config.rank === 0 && r.reduce) lane = `${lane.replace(/, (reduce-scatter|leader sums|mixed)$/, '')}, ${r.reduce}`;
      const all = reports.get(r.sizeMB) ?? [];
      all.push(r.seconds);
      reports.set(r.sizeMB, all);
      if (all.length === configs.length) onSize(r.sizeMB, all, lane);
    });
    return new Promise<number | null>((resolve) => child.on('exit', resolve));
  });
  const codes = await Promise.all(children);
  if (codes.some((c) => c !== 0)) throw new Error(`bench ranks exited with ${codes.join(', ')}`);
}

export interface KernelSpeeds {
  sumGBps: number;
  sumScalarGBps: number;
  bf16EncodeGBps: number;
  bf16DecodeGBps: number;
  unixSocketMBps: number;
  tcpMBps: number;
  shmAccess: string;
}

/** median seconds of 5 runs of f */
function timeIt(f: () => void): number {
  const ts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    f();
    ts.push((performance.now() - t0) / 1000);
  }
  return median(ts);
}

/** R arrays of 23 MB summed in rank order (GB/s of input read), bfloat16 codecs, and 64 MB through a Unix socket and loopback TCP (MB/s) */
export async function localReduceSpeed(R: number): Promise<KernelSpeeds> {
  const n = Math.round(23e6 / 4);
  const parts = Array.from({ length: Math.max(2, R) }, (_, r) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + r)));
  const out = new Float32Array(n);
  const half = new Uint16Array(n);
  const input = parts.length * n * 4;
  return {
    sumGBps: round(input / timeIt(() => sumInRankOrder(parts, out)) / 1e9),
    sumScalarGBps: round(input / timeIt(() => sumInRankOrderScalar(parts, out)) / 1e9),
    bf16EncodeGBps: round((n * 4) / timeIt(() => encodeBfloat16(parts[0], half)) / 1e9),
    bf16DecodeGBps: round((n * 4) / timeIt(() => decodeBfloat16(half, out)) / 1e9),
    unixSocketMBps: round(64e6 / (await oneWay(join(tmpdir(), `cim-bench-${process.pid}.sock`), 64e6)) / 1e6),
    tcpMBps: round(256e6 / (await oneWay(0, 256e6)) / 1e6),
    shmAccess,
  };
}

/** seconds to push `bytes` one way through a Unix socket (a path) or loopback TCP (port 0: any free port) */
async function oneWay(where: string | number, bytes: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let got = 0;
    let t0 = 0;
    const server = createServer((s) => {
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= bytes) {
          resolve((performance.now() - t0) / 1000);
          s.destroy();
          server.close();
        }
      });
    });
    server.on('error', reject);
    const start = () => {
      const address = server.address();
      const onConnect = () => {
        t0 = performance.now();
        const chunk = Buffer.alloc(4 * 1024 * 1024, 1);
        for (let sent = 0; sent < bytes; sent += chunk.length) c.write(chunk);
      };
      const c = typeof address === 'string' ? connect(address, onConnect) : connect(address!.port, '127.0.0.1', onConnect);
      c.on('error', () => {});
    };
    if (typeof where === 'string') server.listen(where, start);
    else server.listen(where, '127.0.0.1', start);
  });
}

async function runRank(c: RankConfig): Promise<void> {
  const collective = await joinCollective({
    redisUrls: c.redisUrls,
    nodeName: c.nodeName,
    runId: c.runId,
    rank: c.rank,
    worldSize: c.worldSize,
    wire: c.wire,
    transport: c.transport,
    glooHost: c.host,
    timeoutMs: 120_000,
    shmDir: benchSwitches.shm === 'off' ? 'none' : undefined,
    shmReduce: benchSwitches.reduce,
  });
  const reductions = () => (collective instanceof NodeLocalCollective ? collective.nodeLocalReductions : { scatter: 0, leader: 0 });
  if (collective instanceof NodeLocalCollective)
    process.stdout.write(
      `${JSON.stringify({ lane: `${collective.nodeLocalLane}${collective.nodeLocalLane === 'shm' ? ` (${shmAccess})` : ''}` })}\n`,
    );
  for (const sizeMB of c.sizesMB) {
    const data = Float32Array.from({ length: Math.max(1, Math.round((sizeMB * 1e6) / 4)) }, (_, i) => Math.sin(i + c.rank));
    const out = c.result === 'reused' ? new Float32Array(data.length) : undefined;
    const seconds: number[] = [];
    const before = reductions();
    for (let i = -2; i < repsFor(sizeMB, c.reps); i++) {
      await collective.barrier();
      const t0 = performance.now();
      if (out) await collective.allReduceMeanInto(data, out);
      else await collective.allReduceMean(data);
      if (i >= 0) seconds.push((performance.now() - t0) / 1000);
    }
    const after = reductions();
    const [scatter, leader] = [after.scatter - before.scatter, after.leader - before.leader];
    const reduce = scatter && leader ? 'mixed' : scatter ? 'reduce-scatter' : leader ? 'leader sums' : undefined;
    process.stdout.write(`${JSON.stringify({ sizeMB, seconds, reduce })}\n`);
  }
  await collective.barrier();
  await collective.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) await runRank(JSON.parse(process.argv[2]) as RankConfig);
