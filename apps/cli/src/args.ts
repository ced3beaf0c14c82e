/** Small helpers over node:util parseArgs: typed numbers with clear errors, the backend. */
import { availableParallelism } from 'node:os';
import { BACKEND_CHOICES, initBackend, type BackendChoice } from '@cim-forge/cim';

export class UsageError extends Error {
  override name = 'UsageError';
}

export function num(flag: string, v: string | undefined, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    const what = opts.int ? 'an integer' : 'a number';
    throw new UsageError(`--${flag} must be ${what}${opts.min !== undefined ? ` >= ${opts.min}` : ''}, got "${v}"`);
  }
  return n;
}

export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The tfjs backend of a command: `--backend`, else `CIM_BACKEND`, else auto. Native threads:
 * `CIM_THREADS`, which `pretrain --ranks N` sets for its ranks (the cores split between them);
 * one process alone uses every core.
 */
export function initCliBackend(flag: string | undefined, log?: (m: string) => void) {
  const choice = flag ?? process.env.CIM_BACKEND ?? 'auto';
  if (!BACKEND_CHOICES.includes(choice as BackendChoice)) {
    throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got "${choice}"`);
  }
  const threads = num('CIM_THREADS', process.env.CIM_THREADS, { int: true, min: 1 });
  return initBackend(choice as BackendChoice, log, { threads });
}

/** Native threads for each of `ranks` processes sharing this machine's cores. */
export function threadsPerRank(ranks: number): number {
  return Math.max(1, Math.floor(availableParallelism() / ranks));
}
