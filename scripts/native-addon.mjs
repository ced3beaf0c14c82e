// Builds one of our optional Node-API addons with node-gyp against this Node's headers: the one
// place for what scripts/native-shm.mjs, native-dnnl.mjs and native-gloo.mjs share. Idempotent (skips when
// the built addon is newer than its sources and loads); never fails the install: when it cannot
// build it says why and what the code falls back to, and returns.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @param {object} o
 * @param {string} o.tag          log prefix, e.g. native-shm
 * @param {string} o.dir          the addon's folder, relative to the repository (holds binding.gyp)
 * @param {string} o.name         the addon's file name without .node
 * @param {string} [o.source]     its one source file in `dir` (default `${name}.c`)
 * @param {string[]} o.exports    functions the built module must export to count as loaded
 * @param {string} o.fallback     what runs instead when it is not built (said in every refusal)
 * @param {{ files: string[], hint: string }} [o.needs]  headers that must exist (any one of files)
 */
export function buildAddon(o) {
  const dir = join(root, o.dir);
  const built = join(dir, `build/Release/${o.name}.node`);
  const log = (msg) => console.log(`[${o.tag}] ${msg}`);
  const loads = () => {
    try {
      const m = createRequire(import.meta.url)(built);
      return o.exports.every((f) => typeof m[f] === 'function');
    } catch {
      return false;
    }
  };
  if (process.argv.includes('--check')) process.exit(loads() ? 0 : 1);
  // an image's dependency layer runs `npm ci` before the sources are copied: its build stage runs
  // this script again once they are (docker/worker.Dockerfile)
  if (!existsSync(join(dir, 'binding.gyp'))) return log(`${o.dir} is not here yet; skipping`);

  const newest = Math.max(...[o.source ?? `${o.name}.c`, 'binding.gyp'].map((f) => statSync(join(dir, f)).mtimeMs));
  if (existsSync(built) && statSync(built).mtimeMs > newest && loads()) return log('up to date');
  if (o.needs && !o.needs.files.some((f) => existsSync(f))) return log(`${o.needs.hint} were not found: ${o.fallback}`);
  const nodedir = [process.env.CIM_NODEDIR, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local']
    .filter(Boolean)
    .find((d) => existsSync(join(d, 'include/node/node_api.h')));
  if (!nodedir) return log(`Node's C headers were not found (Debian: apt-get install libnode-dev): ${o.fallback}`);
  const nodeGyp = createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
  if (r.status !== 0 || !loads()) return log(`build failed (${o.fallback}):\n${r.stdout}${r.stderr}`);
  log(`built ${built}`);
}
