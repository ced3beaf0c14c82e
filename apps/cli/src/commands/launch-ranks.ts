/**
 * `pretrain --ranks N`: start N local rank processes (the cores split between them) that train one model together
 * over the Redis collective, forward Ctrl-C to them, and stop the gang if one fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliSettings, threadsPerRank, webGpuAdapterArgs } from '../args.ts';
import { childProcessEnv } from '@cim-forge/settings';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));

export interface RankOutcome {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the rank's final JSON line (its PretrainResult), when it printed one */
  result?: Record<string, unknown>;
  stderrTail: string;
}

/** `--nodes M`: rank r lives on simulated node floor(r·M / N) ("node-0" …), contiguous groups */
export function simulatedNode(rank: number, ranks: number, nodes: number): string {
  return `node-${Math.floor((rank * nodes) / ranks)}`;
}

export async function launchRanks(o: {
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
      'pretrain',
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
