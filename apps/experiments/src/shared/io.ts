/** File helpers every experiment shares: atomic JSON writes, tolerant reads, a usage error, run weights. */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { JsonlMetricsSink, LocalCheckpointStore } from '@cim-forge/engine';

/** A mistake in the command line: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Writes JSON to a temporary file and renames it, so a reader never sees half a file. */
export async function writeJson(p: string, v: unknown): Promise<void> {
  await mkdir(dirname(p), { recursive: true });
  await writeFile(`${p}.tmp`, JSON.stringify(v, null, 2));
  await rename(`${p}.tmp`, p);
}

/**
 * A training job's files in `dir`: its config.json (written here), its checkpoints and its
 * metrics.jsonl; resumed from the newest checkpoint when the job ran before.
 */
export async function jobRun<C>(dir: string, config: C) {
  await writeJson(join(dir, 'config.json'), config);
  return {
    config,
    store: new LocalCheckpointStore(join(dir, 'checkpoints')),
    metrics: new JsonlMetricsSink(join(dir, 'metrics.jsonl')),
    resume: true,
  };
}

/** The parsed JSON at p, or undefined when it is missing or unreadable (an interrupted write). */
export async function readJson<T>(p: string): Promise<T | undefined> {
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(await readFile(p, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** A model file, or a run directory's model.safetensors, or its latest checkpoint's. */
export async function runWeights(from: string): Promise<string> {
  const p = resolve(from);
  if (!existsSync(p)) throw new Error(`${from}: no such file or directory`);
  if (statSync(p).isFile()) return p;
  if (existsSync(join(p, 'model.safetensors'))) return join(p, 'model.safetensors');
  const last = (await new LocalCheckpointStore(join(p, 'checkpoints')).list()).at(-1);
  if (!last) throw new Error(`${from}: neither a model.safetensors nor a run directory with checkpoints/`);
  return join(p, 'checkpoints', last.id, 'model.safetensors');
}
