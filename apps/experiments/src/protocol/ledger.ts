/**
 * The protocol's ledger: one JSON line per finished job (its config, seed, figures, wall time, the
 * load average while it ran, the commit), committed in experiments/paper-protocol/ledger.jsonl,
 * with the artifacts later jobs need beside it (artifacts/: the pre-trained CIM model and the
 * 10%-label fine-tunes as safetensors, the chosen grid points). A job the ledger holds is never
 * rerun, so the protocol runs in parts, on different days and machines; a job that ran at a load
 * above the limit is kept (marked) but does not count as done, so the next invocation reruns it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { MachineInfo } from '../shared/machine.ts';

export interface LoadRecord {
  /** 1-minute load average at the start, at the end, and the highest sampled while the job ran */
  start: number;
  end: number;
  max: number;
}

export interface LedgerEntry {
  budget: string;
  id: string;
  kind: string;
  seed?: number;
  /** the job's resolved config (paths relative to the repository) */
  config?: unknown;
  figures: Record<string, unknown>;
  seconds: number;
  load: LoadRecord;
  /** the load exceeded the limit while the job ran: its figures are no result and the job is rerun */
  loaded: boolean;
  commit: string;
  machine: MachineInfo;
  finishedAt: string;
}

export const LEDGER_FILE = 'ledger.jsonl';
/** the highest load average at which a job's figures count (the "quiet compute") */
export const DEFAULT_MAX_LOAD = 3;

export class Ledger {
  constructor(
    readonly dir: string,
    readonly budget: string,
  ) {}

  get path(): string {
    return join(this.dir, LEDGER_FILE);
  }

  artifact(name: string): string {
    return join(this.dir, 'artifacts', name);
  }

  /** Every entry of this budget, in the order they were appended. A line that is not JSON is an error, never skipped. */
  async entries(): Promise<LedgerEntry[]> {
    if (!existsSync(this.path)) return [];
    const lines = (await readFile(this.path, 'utf8')).split('\n');
    const out: LedgerEntry[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let e: LedgerEntry;
      try {
        e = JSON.parse(line) as LedgerEntry;
      } catch {
        throw new Error(`${this.path}:${i + 1}: not a JSON line; fix or remove it by hand (the ledger is never rewritten)`);
      }
      if (e.budget === this.budget) out.push(e);
    });
    return out;
  }

  /** The jobs that count as done: the latest entry per job that did not run above maxLoad. */
  async done(maxLoad = DEFAULT_MAX_LOAD): Promise<Map<string, LedgerEntry>> {
    return doneEntries(await this.entries(), maxLoad);
  }

  async append(e: LedgerEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await appendFile(this.path, `${JSON.stringify(e)}\n`);
  }

  /** Copies a file into artifacts/ (atomically) and returns its sha256, which the ledger entry records. */
  async keep(from: string, name: string): Promise<{ path: string; sha256: string; bytes: number }> {
    const to = this.artifact(name);
    await mkdir(join(this.dir, 'artifacts'), { recursive: true });
    await copyFile(from, `${to}.tmp`);
    await rename(`${to}.tmp`, to);
    const bytes = await readFile(to);
    return { path: to, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
}

/** The latest entry per job id among those at or under maxLoad (a loaded rerun never replaces a quiet result). */
export function doneEntries(entries: LedgerEntry[], maxLoad: number): Map<string, LedgerEntry> {
  const done = new Map<string, LedgerEntry>();
  for (const e of entries) if (e.load.max <= maxLoad) done.set(e.id, e);
  return done;
}

/** Samples the 1-minute load average every `everyMs` while a job runs. */
export function watchLoad(sample: () => number, everyMs = 15_000): { stop(): LoadRecord } {
  const start = sample();
  let max = start;
  const timer = setInterval(() => (max = Math.max(max, sample())), everyMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      const end = sample();
      return { start, end, max: Math.max(max, end) };
    },
  };
}
