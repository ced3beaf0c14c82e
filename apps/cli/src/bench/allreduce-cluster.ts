/**
 * The simulated cluster side of `npm run bench:allreduce -- --shards K --nodes M [--ranks-per-node R]
 * [--sizes 0.004,4,23] [--wire auto|float32|bfloat16] [--reps N]`: starts K private redis-servers
 * on free loopback ports, M × R rank processes (node "node-m" holds R ranks), and all-reduces
 * through joinCollective exactly as `cim pretrain --nodes M --redis …` does. Prints JSON lines:
 *   { bench: "allreduce-local", … }   local-reduce speed: float32 sum in rank order of R arrays
 *                                     (GB/s of input), and a Unix socket's one-way MB/s
 *   { bench: "allreduce-cluster", … } per size: median over reps of the slowest rank's seconds,
 *                                     algorithm bandwidth S/t, and the bytes the busiest shard
 *                                     moved (in + out) per second, M·S_w·(1 + 2(M−1)/M)/K / t
 * Sizes are float32 MB (10^6 bytes); 0.004 MB measures the per-operation overhead.
 */
import { spawn } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { joinCollective, resolveWire, startLocalRedisServers, sumInRankOrder, type WireName } from '@cim-forge/collective';

export interface ClusterBenchOptions {
  shards: number;
  nodes: number;
  ranksPerNode: number;
  sizesMB: number[];
  wire: WireName | 'auto';
  reps: number | undefined;
}

interface ChildConfig {
  rank: number;
  worldSize: number;
  nodeName: string;
  redisUrls: string[];
  runId: string;
  sizesMB: number[];
  wire: WireName | 'auto';
  reps: number | undefined;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 4) => +x.toPrecision(digits);
const repsFor = (sizeMB: number, reps: number | undefined) => reps ?? (sizeMB >= 50 ? 3 : sizeMB >= 10 ? 5 : 9);

export async function runClusterBench(o: ClusterBenchOptions): Promise<void> {
  const cores = availableParallelism();
  console.log(
    JSON.stringify({ bench: 'allreduce-local', ranksPerNode: o.ranksPerNode, ...(await localReduceSpeed(o.ranksPerNode)), cores }),
  );
  const servers = await startLocalRedisServers(o.shards);
  try {
    const N = o.nodes * o.ranksPerNode;
    const runId = `bench-${process.pid}-${Date.now()}`;
    const self = fileURLToPath(import.meta.url);
    const reports = new Map<number, number[][]>();
    const children = Array.from({ length: N }, (_, rank) => {
      const config: ChildConfig = {
        rank,
        worldSize: N,
        nodeName: `node-${Math.floor(rank / o.ranksPerNode)}`,
        redisUrls: servers.urls,
        runId,
        sizesMB: o.sizesMB,
        wire: o.wire,
        reps: o.reps,
      };
      const child = spawn(process.execPath, ['--import', 'tsx', self, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const r = JSON.parse(line) as { sizeMB: number; seconds: number[] };
        const all = reports.get(r.sizeMB) ?? [];
        all.push(r.seconds);
        reports.set(r.sizeMB, all);
        if (all.length === N) print(r.sizeMB, all);
      });
      return new Promise<number | null>((resolve) => child.on('exit', resolve));
    });
    const codes = await Promise.all(children);
    if (codes.some((c) => c !== 0)) throw new Error(`bench ranks exited with ${codes.join(', ')}`);
  } finally {
    await servers.stop();
  }

  function print(sizeMB: number, all: number[][]): void {
    const t = median(all[0].map((_, i) => Math.max(...all.map((s) => s[i]))));
    const wire = resolveWire(o.wire, true);
    const M = o.nodes;
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
        sizeMB,
        reps: all[0].length,
        secondsPerAllReduce: round(t),
        algBandwidthMBps: round((sizeMB * 1e6) / t / 1e6),
        busiestShardMBps: round(shardBytes / t / 1e6),
        cores,
        oversubscribed: N + o.shards > cores,
      }),
    );
  }
}

/** R arrays of 23 MB summed in rank order (GB/s of input read), and 64 MB through a Unix socket in this process (MB/s) */
async function localReduceSpeed(R: number): Promise<{ localSumGBps: number; unixSocketMBps: number }> {
  const n = Math.round(23e6 / 4);
  const parts = Array.from({ length: Math.max(2, R) }, (_, r) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + r)));
  const out = new Float32Array(n);
  const sums: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    sumInRankOrder(parts, out);
    sums.push((performance.now() - t0) / 1000);
  }
  const path = join(tmpdir(), `cim-bench-${process.pid}.sock`);
  const bytes = 64e6;
  const seconds = await new Promise<number>((resolve, reject) => {
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
    server.listen(path, () => {
      const c = connect(path, () => {
        t0 = performance.now();
        const chunk = Buffer.alloc(4 * 1024 * 1024, 1);
        for (let sent = 0; sent < bytes; sent += chunk.length) c.write(chunk);
      });
      c.on('error', () => {});
    });
  });
  return { localSumGBps: round((parts.length * n * 4) / median(sums) / 1e9), unixSocketMBps: round(bytes / seconds / 1e6) };
}

async function runRank(c: ChildConfig): Promise<void> {
  const collective = await joinCollective({
    redisUrls: c.redisUrls,
    nodeName: c.nodeName,
    runId: c.runId,
    rank: c.rank,
    worldSize: c.worldSize,
    wire: c.wire,
    timeoutMs: 120_000,
  });
  for (const sizeMB of c.sizesMB) {
    const data = Float32Array.from({ length: Math.max(1, Math.round((sizeMB * 1e6) / 4)) }, (_, i) => Math.sin(i + c.rank));
    const seconds: number[] = [];
    for (let i = -2; i < repsFor(sizeMB, c.reps); i++) {
      await collective.barrier();
      const t0 = performance.now();
      await collective.allReduceMean(data);
      if (i >= 0) seconds.push((performance.now() - t0) / 1000);
    }
    process.stdout.write(`${JSON.stringify({ sizeMB, seconds })}\n`);
  }
  await collective.barrier();
  await collective.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) await runRank(JSON.parse(process.argv[2]) as ChildConfig);
