/**
 * The job store: one directory per job under an experiment's run directory, holding the job's
 * checkpoints and, written last, result.json. A job is done when its result.json exists.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, UsageError, writeJson } from './io.ts';

export class JobStore {
  constructor(readonly out: string) {}

  dir(id: string): string {
    return join(this.out, id);
  }

  resultPath(id: string): string {
    return join(this.out, id, 'result.json');
  }

  async result<T>(id: string): Promise<T | undefined> {
    return readJson<T>(this.resultPath(id));
  }

  async saveResult(id: string, r: unknown): Promise<void> {
    await writeJson(this.resultPath(id), r);
  }

  /** A run directory belongs to one budget: mixing two would average different experiments. */
  async claim(budget: string, budgetConfig: unknown): Promise<void> {
    await mkdir(this.out, { recursive: true });
    const stamp = join(this.out, 'experiment.json');
    if (existsSync(stamp)) {
      const prev = JSON.parse(await readFile(stamp, 'utf8')) as { budget: string };
      if (prev.budget !== budget)
        throw new UsageError(`${this.out} holds a --budget ${prev.budget} experiment; choose another --out for --budget ${budget}`);
    } else await writeFile(stamp, JSON.stringify({ budget, budgetConfig }, null, 2));
  }
}
