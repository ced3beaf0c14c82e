import { homedir } from 'node:os';
import { join } from 'node:path';

let chosen: string | undefined;

/**
 * The app's cache dir, from its settings (libs/settings' `SettingsReader.cacheDir()`: CIM_CACHE_DIR,
 * else `$XDG_CACHE_HOME/cim-forge`): apps set it once at start; libs/data never reads the environment.
 */
export function setDefaultCacheDir(dir: string | undefined): void {
  chosen = dir;
}

/** Where derived data (e.g. the Fashion-MNIST binary) is cached: the app's choice, else `~/.cache/cim-forge`. */
export function defaultCacheDir(): string {
  return chosen ?? join(homedir(), '.cache', 'cim-forge');
}
