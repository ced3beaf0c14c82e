/** Where and when a figure was measured: the machine, its load, the commit. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, platform, release } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  os: string;
  node: string;
}

export const machineInfo = (): MachineInfo => ({
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  os: `${platform()} ${release()}`,
  node: process.version,
});

/** the 1-minute load average */
export const load1 = () => loadavg()[0];

/** The commit the code ran at (with "+dirty" when the tree has changes), or "unknown" outside git. */
export function commitOf(cwd = process.cwd()): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return dirty.trim() ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}
