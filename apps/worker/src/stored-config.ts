/** A run's stored config as the rank runner reads it: parsed with the run contract's schema. */
import { parseRunConfig, type RunConfigs, type RunKind } from '@cim-forge/config';
import { RunError } from './run-error.ts';

/** the stored config, parsed with the run contract's schema (a bad one is the run's own error) */
export function runConfig<K extends RunKind>(kind: K, stored: unknown): RunConfigs[K] {
  try {
    return parseRunConfig(kind, stored);
  } catch (e) {
    throw new RunError((e as Error).message);
  }
}
