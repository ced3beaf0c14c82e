/**
 * The environment of a rank process, spelled out: it decodes untrusted images, so it gets only
 * what it needs (the service settings it reads, where Node and caches live) and never the
 * worker's other variables (CIM_ADMIN_TOKEN, cloud credentials of the pod, …).
 */
import { toProcessEnv, type ServiceEnv } from './service-env.ts';

/** inherited from the worker when set: the OS and Node basics, the data cache (LOG_LEVEL travels with the service settings) */
export const RANK_INHERITED_ENV = [
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'TZ',
  'NODE_OPTIONS',
  // a production image's NODE_ENV reaches the rank too, where the fault settings are read again
  'NODE_ENV',
  'NODE_PATH',
  'CIM_CACHE_DIR',
  'XDG_CACHE_HOME',
  'LD_LIBRARY_PATH',
  'CUDA_VISIBLE_DEVICES',
  'NVIDIA_VISIBLE_DEVICES',
] as const;

export function rankProcessEnv(
  parent: Readonly<Record<string, string | undefined>>,
  env: ServiceEnv,
  extra: Record<string, string> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of RANK_INHERITED_ENV) {
    const v = parent[k];
    if (v !== undefined) out[k] = v;
  }
  return { ...out, ...toProcessEnv(env), ...extra };
}
