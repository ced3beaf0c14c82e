/**
 * The cross-node side of `npm run bench:allreduce -- --transport gloo --nodes M [--ranks-per-node R]
 * [--rate 1gbit] [--sizes 4,23] [--reps N] [--compare redis|none]`: M network namespaces on this
 * machine as nodes (libs/collective/src/testing/netns-cluster.ts; root only), each node's link a
 * veth to a bridge, shaped by `tc … tbf` to `--rate` each way; a redis-server in the hub namespace
 * on the bridge's address (Gloo's rendezvous, the Redis transport's streams); R rank processes per
 * node inside its namespace (R > 1: the node-local shared-memory step first, as
 * NodeLocalCollective does). Per size, in this order: the raw TCP ring on the same links
 * (testing/tcp-ring.ts: every node streams 2·S·(M−1)/M bytes to the next while it receives as many,
 * the bus bandwidth a perfect ring all-reduce would reach), the transport's all-reduce, then (with
 * `--compare redis`, the default) the Redis transport's on the same links. Prints JSON lines:
 *   { bench: "allreduce-kernels", … }   as the cluster bench: B_sum (sumGBps), the bfloat16 codecs,
 *                                       one-way Unix socket and raw loopback TCP MB/s (tcpMBps)
 *   { bench: "allreduce-gloo", … }      per size: secondsPerAllReduce (median over reps of the slowest
 *                                       rank), busGBps = 2(M−1)/M·S_w/t over the M nodes, rawBusGBps
 *                                       (the ring), busToRaw = busGBps / rawBusGBps; redisBusGBps and
 *                                       redisToRaw: the Redis transport on the same links
 * (`--transport redis` prints `allreduce-netns-redis` lines, the Redis transport alone.)
 */
import { availableParallelism } from 'node:os';
import { resolveWire, type WireName } from '@cim-forge/collective';
import { measureRawRing, NetnsCluster, parseRate, type RawRingResult } from '@cim-forge/collective/testing';
import { localReduceSpeed, repsFor, round, runRanks, slowestMedian, type RankConfig } from './allreduce-cluster.ts';

export interface NetnsBenchOptions {
  transport: 'gloo' | 'redis';
  nodes: number;
  ranksPerNode: number;
  sizesMB: number[];
  /** tc rate of each node's link; undefined: unshaped veth (bounded by this machine's CPUs) */
  rate: string | undefined;
  reps: number | undefined;
  /** also time the Redis transport on the same links (gloo only) */
  compareRedis: boolean;
  wire: WireName | 'auto';
}

/** the bytes per element on the cross-node wire of each transport (Gloo sums float32 on the wire) */
function wireBytes(transport: 'gloo' | 'redis', o: NetnsBenchOptions): number {
  if (transport === 'gloo') return 4;
  return { float32: 4, float16: 2, bfloat16: 2 }[resolveWire(o.wire, o.ranksPerNode > 1)];
}

export async function runNetnsBench(o: NetnsBenchOptions): Promise<void> {
  if (o.nodes < 2) throw new Error(`the namespace bench measures across nodes: nodes must be ≥ 2, got ${o.nodes}`);
  const rateBytesPerS = o.rate === undefined ? undefined : parseRate(o.rate);
  const cores = availableParallelism();
  const kernels = await localReduceSpeed(o.ranksPerNode);
  console.log(JSON.stringify({ bench: 'allreduce-kernels', ranksPerNode: o.ranksPerNode, ...kernels, cores }));
  const M = o.nodes;
  const cluster = NetnsCluster.create({ nodes: M, rate: o.rate });
  try {
    const redis = await cluster.startRedis();
    const raw = new Map<number, RawRingResult>();
    for (const sizeMB of o.sizesMB)
      raw.set(sizeMB, await measureRawRing(cluster, (2 * sizeMB * 1e6 * (M - 1)) / M, repsFor(sizeMB, o.reps)));
    const transports = o.transport === 'gloo' && o.compareRedis ? (['gloo', 'redis'] as const) : ([o.transport] as const);
    const seconds = new Map<string, number>(); // `${transport} ${sizeMB}` → s
    for (const transport of transports) {
      const N = M * o.ranksPerNode;
      const runId = `netns-${transport}-${process.pid}-${Date.now()}`;
      const configs: RankConfig[] = Array.from({ length: N }, (_, rank) => {
        const node = cluster.nodes[Math.floor(rank / o.ranksPerNode)];
        return {
          rank,
          worldSize: N,
          nodeName: o.ranksPerNode > 1 ? node.name : undefined,
          redisUrls: [redis.url],
          transport,
          host: node.address,
          runId,
          sizesMB: o.sizesMB,
          wire: o.wire,
          reps: o.reps,
          result: 'reused',
        };
      });
      const nodeOf = (c: RankConfig) => cluster.nodes[Math.floor(c.rank / o.ranksPerNode)].name;
      await runRanks(
        configs,
        (args, c) => cluster.spawn(nodeOf(c), process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }),
        (sizeMB, all) => seconds.set(`${transport} ${sizeMB}`, slowestMedian(all)),
      );
    }
    for (const sizeMB of o.sizesMB) {
      const S = sizeMB * 1e6;
      const rawBus = raw.get(sizeMB)!.busBytesPerS;
      const bus = (transport: 'gloo' | 'redis') => {
        const t = seconds.get(`${transport} ${sizeMB}`)!;
        return { t, bus: (((2 * (M - 1)) / M) * S * wireBytes(transport, o)) / 4 / t };
      };
      const main = bus(o.transport);
      const redisSide = o.transport === 'gloo' && o.compareRedis ? bus('redis') : undefined;
      console.log(
        JSON.stringify({
          bench: o.transport === 'gloo' ? 'allreduce-gloo' : 'allreduce-netns-redis',
          nodes: M,
          ranksPerNode: o.ranksPerNode,
          rate: o.rate ?? 'unshaped',
          rateMBps: rateBytesPerS === undefined ? null : round(rateBytesPerS / 1e6),
          sizeMB,
          reps: repsFor(sizeMB, o.reps),
          wireBytes: wireBytes(o.transport, o),
          secondsPerAllReduce: round(main.t),
          busGBps: round(main.bus / 1e9),
          rawBusGBps: round(rawBus / 1e9),
          busToRaw: round(main.bus / rawBus, 3),
          ...(redisSide
            ? {
                redisWireBytes: wireBytes('redis', o),
                redisSecondsPerAllReduce: round(redisSide.t),
                redisBusGBps: round(redisSide.bus / 1e9),
                redisToRaw: round(redisSide.bus / rawBus, 3),
              }
            : {}),
          loopbackTcpGBps: round(kernels.tcpMBps / 1e3),
          cores,
          oversubscribed: M * o.ranksPerNode + 1 > cores,
        }),
      );
    }
  } finally {
    cluster.destroy();
  }
}
