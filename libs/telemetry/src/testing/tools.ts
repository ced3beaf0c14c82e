// Test helpers: the repository root, and the external checkers (promtool, helm) when installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const repoPath = (...p: string[]) => join(repoRoot, ...p);

function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, bin))) return join(dir, bin);
  }
  return undefined;
}

/** promtool from Debian's `prometheus` package (apt-get install -y prometheus) */
export const promtool = process.env.PROMTOOL ?? onPath('promtool');
export const NO_PROMTOOL = 'promtool not found: apt-get install -y prometheus (or set PROMTOOL)';

/** helm is optional: HELM_BIN or helm on PATH */
export const helm = process.env.HELM_BIN ?? onPath('helm');
export const NO_HELM = 'helm not found (set HELM_BIN): rendering checks skipped, static checks still run';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(bin: string, args: string[], input?: string, cwd = repoRoot): RunResult {
  const r = spawnSync(bin, args, { input, cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
