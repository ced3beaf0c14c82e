/**
 * The cost model of our two-level all-reduce (docs/scaling.md), fitted to constants measured by
 * `npm run bench:allreduce -- --shards K --nodes M`, and NCCL ring all-reduce from published
 * bus bandwidths. `node --import tsx apps/cli/src/bench/allreduce-model.ts` prints the table.
 *
 * One all-reduce of S float32 bytes over N GPUs, G per node (M = N/G nodes), K Redis shards:
 *   local  = 2·(G−1)·S / B_sock + G·S / B_sum           the leader receives G−1 arrays and sends
 *                                                       the result back (one socket at a time), sums G
 *   local  = 2·S / B_copy + G·S / B_sum                 shared memory (B_copy given), the leader sums: each
 *                                                       follower copies its S in and the mean out itself,
 *                                                       all at once; the leader sums G and copies its mean out
 *   local  = max(2·S / B_copy + S / B_sum,              shared memory, reduce-scatter (localReduce "scatter",
 *                (5G + 1)·S / B_mem)                    the default): every rank copies its S in, sums 1/G of
 *                                                       the elements of all G arrays (S of input), copies
 *                                                       the mean out, all at once; unless the node's memory
 *                                                       bus (B_mem, when given) is the limit: G ranks read
 *                                                       and write 5·S each (2 copies, a sum) + S of sums
 *   cross  = max(M·S_w·(1 + 2(M−1)/M) / (K·B_shard),    the busiest shard moves every leader's S_w in
 *               S_w·(1 + 2(M−1)/M) / B_nic)             and 2(M−1)/M of it out; a leader's link
 *            + msgs · α_msg                              msgs = M·M·⌈S/(K·bucket)⌉ entries per shard
 *   t      = α_op + device + local + cross               S_w = S·(wire bytes / 4)
 *   device = 2·S / B_pcie                                each GPU's gradients to host memory and the mean
 *                                                       back (B_pcie given; every GPU at once)
 * Across nodes over Gloo (transport gloo, issue 25) instead of Redis: the M leaders' ring all-reduce,
 *   cross  = 2(M−1)/M · S / B_gloo                       float32 on the wire; B_gloo, Gloo's bus
 *                                                       bandwidth, = busToRaw × the link's raw TCP bus
 * NCCL ring: t = 2(N−1)/N · S / busbw (nccl-tests' definition of bus bandwidth).
 */
import { fileURLToPath } from 'node:url';

export interface CostConstants {
  /** s: fixed cost of one all-reduce (dependent round trips, scheduling) */
  opOverheadS: number;
  /** s per stream entry on a shard (XADD + its read) */
  messageOverheadS: number;
  /** bytes/s one Redis shard moves, in + out */
  shardBytesPerS: number;
  /** bytes/s of a node leader's network link */
  nicBytesPerS: number;
  /** bytes/s one node-local transfer moves (Unix socket) */
  localLinkBytesPerS: number;
  /**
   * bytes/s one rank copies into or out of the node's shared memory (results into reused
   * buffers); when given, the node-local step is the shared-memory one: the followers' copies run
   * in parallel instead of one socket transfer after another through the leader
   */
  localCopyBytesPerS?: number;
  /** bytes/s of input one rank's float32 sum reads (one thread) */
  localSumBytesPerS: number;
  /**
   * who sums on shared memory (with localCopyBytesPerS): `scatter` (default: each of the G ranks
   * sums 1/G of the elements at once) or `leader` (the leader sums all G arrays alone)
   */
  localReduce?: 'scatter' | 'leader';
  /** bytes/s the node's memory bus carries for all its ranks at once (a reduce-scatter's floor); omit: no limit */
  nodeMemoryBytesPerS?: number;
  /** bytes/s one GPU's gradients move to host memory, and the mean back (PCIe, each way); omit: not counted */
  deviceCopyBytesPerS?: number;
  /** bytes per all-reduce bucket (4 MiB) */
  bucketBytes: number;
  /** bytes/s of bus bandwidth of Gloo's ring across the node leaders (given: the table has a Gloo column) */
  glooBusBytesPerS?: number;
}

export interface Prediction {
  seconds: number;
  local: number;
  cross: number;
  /** GPU → host and back (0 unless deviceCopyBytesPerS is given) */
  device: number;
}

/**
 * Seconds of one all-reduce of S float32 bytes over N GPUs, G a node, the cross-node hop through K
 * Redis shards with `wireBytes` per element, or (`transport` gloo) through Gloo's ring in float32.
 */
export function predictAllReduce(
  S: number,
  N: number,
  G: number,
  K: number,
  wireBytes: number,
  c: CostConstants,
  transport: 'redis' | 'gloo' = 'redis',
): Prediction {
  const g = Math.min(G, N);
  const M = Math.ceil(N / g);
  let local = 0;
  if (g > 1 && !c.localCopyBytesPerS) local = (2 * (g - 1) * S) / c.localLinkBytesPerS + (g * S) / c.localSumBytesPerS;
  else if (g > 1 && c.localReduce === 'leader') local = (2 * S) / c.localCopyBytesPerS! + (g * S) / c.localSumBytesPerS;
  else if (g > 1) {
    const perRank = (2 * S) / c.localCopyBytesPerS! + S / c.localSumBytesPerS;
    local = Math.max(perRank, c.nodeMemoryBytesPerS ? ((5 * g + 1) * S) / c.nodeMemoryBytesPerS : 0);
  }
  let cross = 0;
  if (M > 1 && transport === 'gloo') {
    if (!c.glooBusBytesPerS) throw new Error('transport gloo needs glooBusBytesPerS');
    cross = (((2 * (M - 1)) / M) * S) / c.glooBusBytesPerS;
  } else if (M > 1) {
    const Sw = (S * wireBytes) / 4;
    const perLeader = Sw * (1 + (2 * (M - 1)) / M);
    const msgs = M * M * Math.ceil(S / (K * c.bucketBytes));
    cross = Math.max((M * perLeader) / (K * c.shardBytesPerS), perLeader / c.nicBytesPerS) + msgs * c.messageOverheadS;
  }
  const device = c.deviceCopyBytesPerS ? (2 * S) / c.deviceCopyBytesPerS : 0;
  return { seconds: c.opOverheadS + device + local + cross, local, cross, device };
}

/** NCCL ring all-reduce: 2(N−1)/N·S bytes through each GPU's link at the bus bandwidth */
export function ncclRingSeconds(S: number, N: number, busBytesPerS: number): number {
  return (((2 * (N - 1)) / N) * S) / busBytesPerS;
}

/** communication share of a step that computes for `computeS` and then all-reduces (no overlap) */
export const commShare = (allReduceS: number, computeS: number) => allReduceS / (allReduceS + computeS);

/** ViT gradients in float32 (timm parameter counts: 5.7 M, 22 M, 86 M) */
export const MODELS = [
  { name: 'ViT-T', bytes: 23e6, stepS: 0.1 },
  { name: 'ViT-S', bytes: 88e6, stepS: 0.2 },
  { name: 'ViT-B', bytes: 344e6, stepS: 0.45 },
] as const;

/** published NCCL ring all-reduce bus bandwidths (docs/scaling.md cites them) */
export const NCCL_BUSBW = { intraNode: 208e9, interNode: 90e9 };

/** the markdown table of docs/scaling.md; with glooBusBytesPerS, Gloo across nodes beside Redis's 16 shards */
export function table(c: CostConstants, label: string): string {
  const gloo = c.glooBusBytesPerS !== undefined;
  const head = gloo
    ? ['K=16 Redis shards, bfloat16: s (comm %)', 'Gloo ring, float32: s (comm %)', 'Gloo: cross-node s']
    : ['K=1: s (comm %)', 'K=4', 'K=16', 'K=16, no node-local (G=1)', 'K=16, float32 wire'];
  const rows = [`| model | GPUs | ${head.join(' | ')} | NCCL ring s (comm %) |`, `| --- | --- |${' --- |'.repeat(head.length + 1)}`];
  const fmt = (p: number) => (p < 0.1 ? p.toFixed(3) : p.toFixed(2));
  const f = (p: number, step: number) => `${fmt(p)} (${Math.round(100 * commShare(p, step))}%)`;
  for (const m of MODELS) {
    for (const N of [8, 64, 256]) {
      const k = (K: number, G = 8, w = 2) => f(predictAllReduce(m.bytes, N, G, K, w, c).seconds, m.stepS);
      const nccl = f(ncclRingSeconds(m.bytes, N, N <= 8 ? NCCL_BUSBW.intraNode : NCCL_BUSBW.interNode), m.stepS);
      const g = predictAllReduce(m.bytes, N, 8, 1, 4, c, 'gloo');
      const cells = gloo ? [k(16), f(g.seconds, m.stepS), fmt(g.cross)] : [k(1), k(4), k(16), k(16, 1), k(16, 8, 4)];
      rows.push(`| ${m.name} | ${N} | ${cells.join(' | ')} | ${nccl} |`);
    }
  }
  return `${label}\n\n${rows.join('\n')}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const c = JSON.parse(process.argv[2] ?? '{}') as CostConstants;
  console.log(table(c, `constants: ${JSON.stringify(c)}`));
}
