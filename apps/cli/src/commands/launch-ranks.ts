/**
 * `pretrain --ranks N` and `finetune --ranks N`: start N local rank processes (the cores split between them) that
 * train one model together over the collective, forward Ctrl-C to them, and stop the gang if one fails. Also the
 * flags both commands share for it, and how a rank process joins its gang.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliSettings, num, threadsPerRank, UsageError, webGpuAdapterArgs } from '../args.ts';
import { childProcessEnv } from '@cim-forge/settings';
import {
  joinCollective,
  parseRedisUrlList,
  TRANSPORT_NAMES,
  transportProblem,
  WIRE_NAMES,
  type GangCollective,
  type TransportName,
  type WireName,
} from '@cim-forge/collective';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));

export interface RankOutcome {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the rank's final JSON line (its PretrainResult or FinetuneResult), when it printed one */
  result?: Record<string, unknown>;
  stderrTail: string;
}

/** `--nodes M`: rank r lives on simulated node floor(r·M / N) ("node-0" …), contiguous groups */
export function simulatedNode(rank: number, ranks: number, nodes: number): string {
  return `node-${Math.floor((rank * nodes) / ranks)}`;
}

export type RankCommand = 'pretrain' | 'finetune';

/** the `--ranks` flags for parseArgs: the user's, then those the launcher sets for each rank process */
export const RANK_FLAGS = {
  ranks: { type: 'string' },
  redis: { type: 'string' },
  'collective-timeout': { type: 'string' },
  nodes: { type: 'string' },
  wire: { type: 'string' },
  transport: { type: 'string' },
  node: { type: 'string' },
  'socket-dir': { type: 'string' },
  rank: { type: 'string' },
  'world-size': { type: 'string' },
  'run-id': { type: 'string' },
} as const;

export type RankFlagValues = { [K in keyof typeof RANK_FLAGS]?: string };

/** the help lines of the collective's flags, after each command's own `--ranks N` paragraph */
export const COLLECTIVE_HELP = `\
  --redis URL[,URL…]    the Redis for gradients (default CIM_COLLECTIVE_REDIS_URLS, else REDIS_URL, else redis://127.0.0.1:6379);
                        several URLs shard every all-reduce over them (K servers, in parallel)
  --nodes M             simulate M nodes: the ranks are split into M contiguous groups; each group
                        sums its gradients over a Unix socket and only its leader talks to Redis
  --wire W              auto | float32 | bfloat16 | float16: gradient format on the Redis wire
                        (auto: bfloat16 across nodes when --nodes is given, else float32)
  --transport T         redis | gloo: what carries the gradients (default redis, or CIM_COLLECTIVE_TRANSPORT).
                        gloo: Gloo (PyTorch's CPU collective library, Debian's libgloo-dev) over TCP rank to
                        rank, or node leader to node leader with --nodes; Redis only for the rendezvous
  --collective-timeout MS  a rank silent this long fails the gang, named (default 60000)`;

/** The checked `--ranks` flags: `rank` is set in a rank process (by the launcher), undefined in the launcher or a lone process. */
export interface RankFlags {
  ranks: number;
  rank: number | undefined;
  worldSize: number;
  nodes: number | undefined;
  wire: WireName | 'auto';
  transport: TransportName;
  redisUrls: string[];
  timeoutMs: number;
}

export function rankFlags(values: RankFlagValues): RankFlags {
  const ranks = num('ranks', values.ranks, { int: true, min: 1 }) ?? 1;
  const nodes = num('nodes', values.nodes, { int: true, min: 1 });
  if (nodes !== undefined && nodes > ranks) throw new UsageError(`--nodes ${nodes}: more nodes than --ranks ${ranks}`);
  const wire = (values.wire ?? 'auto') as WireName | 'auto';
  if (wire !== 'auto' && !WIRE_NAMES.includes(wire)) throw new UsageError(`--wire ${values.wire}: not auto, ${WIRE_NAMES.join(', ')}`);
  const transport = (values.transport ?? cliSettings().collectiveTransport) as TransportName;
  if (!TRANSPORT_NAMES.includes(transport)) throw new UsageError(`--transport ${transport}: not ${TRANSPORT_NAMES.join(' or ')}`);
  const refused = ranks > 1 ? transportProblem(transport) : undefined;
  if (refused) throw new UsageError(`--${refused}`);
  if (transport === 'gloo' && wire !== 'auto' && wire !== 'float32')
    throw new UsageError(`--wire ${wire}: transport gloo always sends float32 (--wire is the Redis transport's)`);
  const redisUrls = parseRedisUrlList(values.redis ?? cliSettings().collectiveRedisUrls.join(','));
  if (!redisUrls.length) throw new UsageError('--redis: no URL given');
  for (const u of redisUrls)
    if (!/^rediss?:\/\/[^\s]+$/.test(u)) throw new UsageError(`--redis: ${JSON.stringify(u)} is not a redis:// or rediss:// URL`);
  return {
    ranks,
    nodes,
    wire,
    transport,
    redisUrls,
    rank: num('rank', values.rank, { int: true, min: 0 }),
    worldSize: num('world-size', values['world-size'], { int: true, min: 1 }) ?? 1,
    timeoutMs: num('collective-timeout', values['collective-timeout'], { int: true, min: 100 }) ?? 60_000,
  };
}

/** A rank process's place in its gang (undefined outside one). */
export async function joinRankCollective(f: RankFlags, values: RankFlagValues): Promise<GangCollective | undefined> {
  if (f.rank === undefined) return undefined;
  return joinCollective({
    redisUrls: f.redisUrls,
    nodeName: values.node,
    socketDir: values['socket-dir'],
    wire: f.wire,
    transport: f.transport,
    runId: values['run-id'] ?? 'cli',
    rank: f.rank,
    worldSize: f.worldSize,
    timeoutMs: f.timeoutMs,
  });
}

/**
 * The launcher's side of `--ranks N`: run `command` with `argv` (its --out replaced by `out`) as a gang, print
 * one JSON line (rank 0's result, whether every rank ended with the same weights, each rank's exit and
 * digest) and return the exit code: 0 when every rank finished with identical weights.
 */
export async function runGang(o: { command: RankCommand; argv: string[]; ranks: number; nodes?: number; out: string }): Promise<number> {
  const forwarded = o.argv.filter((a, i) => !(a === '--out' || o.argv[i - 1] === '--out' || a.startsWith('--out=')));
  const outcomes = await launchRanks({ ...o, argv: forwarded, log: (m) => console.error(m) });
  const digests = new Set(outcomes.map((r) => r.result?.weightsDigest));
  const ok = outcomes.every((r) => r.code === 0);
  console.log(
    JSON.stringify({
      out: o.out,
      ranks: o.ranks,
      ok,
      identicalWeights: ok && digests.size === 1,
      ...(outcomes[0].result ?? {}),
      perRank: outcomes.map((r) => ({
        rank: r.rank,
        code: r.code,
        signal: r.signal,
        weightsDigest: r.result?.weightsDigest,
        steps: r.result?.steps,
      })),
    }),
  );
  if (ok && digests.size !== 1) console.error('error: the ranks ended with different weights');
  return ok && digests.size === 1 ? 0 : 1;
}

export async function launchRanks(o: {
  command: RankCommand;
  argv: string[];
  ranks: number;
  nodes?: number;
  out: string;
  log: (m: string) => void;
}): Promise<RankOutcome[]> {
  const runId = `cli-${randomUUID()}`;
  // the simulated nodes' Unix sockets: one directory for this gang, removed when it ends (a killed
  // leader cannot remove its own socket file)
  const socketDir = o.nodes ? mkdtempSync(join(tmpdir(), 'cim-nodes-')) : undefined;
  const children: ChildProcess[] = [];
  const outcomes: Promise<RankOutcome>[] = [];
  let failed = false;
  for (let rank = 0; rank < o.ranks; rank++) {
    const args = [
      '--import',
      'tsx',
      main,
      ...webGpuAdapterArgs(),
      o.command,
      ...o.argv,
      '--rank',
      String(rank),
      '--world-size',
      String(o.ranks),
      '--run-id',
      runId,
      '--out',
      o.out,
    ];
    if (socketDir) args.push('--node', simulatedNode(rank, o.ranks, o.nodes!), '--socket-dir', socketDir);
    // rank 0 shows the progress bar and summary on our stderr; the others speak only on failure
    // own process group: a terminal's Ctrl-C reaches only us, and we forward it exactly once
    // the native backend's threads: this machine's cores split between the ranks (CIM_THREADS wins)
    const env = childProcessEnv({ CIM_THREADS: String(cliSettings().threads ?? threadsPerRank(o.ranks)) });
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', rank === 0 ? 'inherit' : 'pipe'], detached: true, env });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    outcomes.push(
      new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          const last = stdout.trim().split('\n').at(-1);
          let result: Record<string, unknown> | undefined;
          try {
            result = last ? JSON.parse(last) : undefined;
          } catch {
            result = undefined;
          }
          if ((code !== 0 || signal) && !failed) {
            failed = true;
            const node = o.nodes ? simulatedNode(rank, o.ranks, o.nodes) : '';
            const leader = o.nodes && (rank === 0 || simulatedNode(rank - 1, o.ranks, o.nodes) !== node);
            const where = o.nodes ? ` (${node}${leader ? ', node leader' : ''})` : '';
            const tail = stderr ? `\n[rank ${rank}] ${stderr.trim().split('\n').slice(-5).join(`\n[rank ${rank}] `)}` : '';
            o.log(`rank ${rank}${where} ${signal ? `was killed (${signal})` : `failed (exit ${code})`}: stopping the gang${tail}`);
            // the others are blocked in an all-reduce that can never complete
            setTimeout(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')), 2000).unref();
          }
          resolve({ rank, code, signal, result, stderrTail: stderr });
        });
      }),
    );
  }
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    // every rank votes to stop; the vote travels with the next all-reduce, so the gang stops together
    for (const c of children) if (c.exitCode === null) c.kill(interrupts === 1 ? 'SIGINT' : 'SIGKILL');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await Promise.all(outcomes);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  }
}
