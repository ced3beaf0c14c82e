/**
 * Which of the optional Node-API addons load in this build: the shared-memory lane's mmap
 * (libs/collective/native, cim_shm.node), Gloo (cim_gloo.node) and oneDNN (libs/cim/native,
 * cim_dnnl.node). Prints one JSON line; with `--require shm,gloo,dnnl` it exits 1 naming each one
 * asked for that does not load. The worker image's build runs it on the bundle (scripts/build.mjs
 * copies the addons beside it), so an image without them is not built.
 *
 *   node dist/apps/worker/src/native-check.js                       # {"shm":"mmap","gloo":true,"dnnl":"2.7.3"}
 *   node dist/apps/worker/src/native-check.js --require shm,gloo
 */
import { pathToFileURL } from 'node:url';
import { glooAvailable, glooUnavailableReason, shmAccess } from '@cim-forge/collective';
import { dnnlVersion } from '@cim-forge/cim';

export const NATIVE_ADDONS = ['shm', 'gloo', 'dnnl'] as const;
export type NativeAddon = (typeof NATIVE_ADDONS)[number];

export interface NativeStatus {
  /** how the node-local lane reaches its shared-memory files: `mmap` (cim_shm.node) or `pread` (without it) */
  shm: 'mmap' | 'pread';
  /** whether transport `gloo` is possible (cim_gloo.node loads) */
  gloo: boolean;
  /** oneDNN's version when cim_dnnl.node loads, else null */
  dnnl: string | null;
}

export function nativeStatus(): NativeStatus {
  return { shm: shmAccess, gloo: glooAvailable(), dnnl: dnnlVersion() };
}

/** what `--require` asked for that does not load, each with its reason */
export function missingAddons(status: NativeStatus, required: readonly NativeAddon[]): string[] {
  const why: Record<NativeAddon, string | undefined> = {
    shm: status.shm === 'mmap' ? undefined : 'shm: cim_shm.node does not load (scripts/native-shm.mjs); the lane uses pread/pwrite',
    gloo: status.gloo ? undefined : `gloo: ${glooUnavailableReason() ?? 'cim_gloo.node does not load'}`,
    dnnl: status.dnnl ? undefined : "dnnl: cim_dnnl.node does not load (scripts/native-dnnl.mjs, Debian's libdnnl-dev)",
  };
  return required.map((a) => why[a]).filter((m): m is string => m !== undefined);
}

/** `--require a,b` → the addons named; throws on a name that is not one */
export function parseRequired(argv: readonly string[]): NativeAddon[] {
  const at = argv.indexOf('--require');
  if (at < 0) return [];
  const names = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const bad = names.filter((n) => !(NATIVE_ADDONS as readonly string[]).includes(n));
  if (names.length === 0 || bad.length)
    throw new Error(`--require takes a list of ${NATIVE_ADDONS.join(', ')}; got "${argv[at + 1] ?? ''}"`);
  return names as NativeAddon[];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let required: NativeAddon[] = [];
  try {
    required = parseRequired(process.argv.slice(2));
  } catch (e) {
    console.error(`native-check: ${(e as Error).message}`);
    process.exit(2);
  }
  const status = nativeStatus();
  console.log(JSON.stringify(status));
  const missing = missingAddons(status, required);
  for (const m of missing) console.error(`native-check: ${m}`);
  process.exit(missing.length ? 1 : 0);
}
