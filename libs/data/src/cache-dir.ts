import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where derived data (e.g. the Fashion-MNIST binary) is cached. The one place libs/data reads
 * the environment: `CIM_CACHE_DIR`, else `$XDG_CACHE_HOME/cim-forge`, else `~/.cache/cim-forge`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CIM_CACHE_DIR) return env.CIM_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'cim-forge');
  return join(homedir(), '.cache', 'cim-forge');
}
