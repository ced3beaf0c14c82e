/**
 * A submitted run's config, resolved with the config lib's own resolvers: the preset first, the
 * submitted fields over it. The route has already checked every field against the run contract's
 * schema (submit-body-validator.ts); what is left are cross-field rules (a model's own fields, the
 * sampler agreeing with the model), each a 400 with the resolver's message.
 */
import {
  evalPresets,
  finetunePresets,
  presets as pretrainPresets,
  resolveEvalConfig,
  resolveFinetuneConfig,
  resolvePretrainConfig,
  type EvalConfig,
  type FinetuneConfig,
  type PretrainConfig,
} from '@cim-forge/config';
import { badRequest } from '../http-error.ts';

export type RunKindName = 'pretrain' | 'finetune' | 'eval';
export type ResolvedConfig = PretrainConfig | FinetuneConfig | EvalConfig;

/** largest accepted submitted config, bytes of JSON */
export const MAX_CONFIG_BYTES = 64 * 1024;

export interface RunConfigRequest {
  kind: RunKindName;
  preset?: string;
  config?: Record<string, unknown>;
  /** finetune only: which CIM encoder to start from */
  encoder?: 'online' | 'target';
}

export const presetCatalog = {
  pretrain: pretrainPresets,
  finetune: finetunePresets,
  eval: evalPresets,
} as const;

function presetConfig(kind: 'finetune' | 'eval', preset: string | undefined): Record<string, unknown> {
  if (preset === undefined) return {};
  const catalog = presetCatalog[kind];
  if (!Object.hasOwn(catalog, preset)) {
    throw badRequest(`unknown ${kind} preset "${preset}"; choose one of: ${Object.keys(catalog).join(', ')}`);
  }
  return catalog[preset].config as Record<string, unknown>;
}

/** runs a resolver, turning its thrown message into a 400 */
function resolving<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw badRequest((err as Error).message);
  }
}

export function resolveRunConfig(r: RunConfigRequest): ResolvedConfig {
  const config = r.config ?? {};
  const bytes = Buffer.byteLength(JSON.stringify(config));
  if (bytes > MAX_CONFIG_BYTES) throw badRequest(`body/config is ${bytes} bytes of JSON; at most ${MAX_CONFIG_BYTES} are accepted`);
  if (r.encoder !== undefined && r.kind !== 'finetune') throw badRequest('body/encoder applies to finetune runs only');

  switch (r.kind) {
    case 'pretrain':
      if (r.preset !== undefined && !Object.hasOwn(pretrainPresets, r.preset)) {
        throw badRequest(`unknown pretrain preset "${r.preset}"; choose one of: ${Object.keys(pretrainPresets).join(', ')}`);
      }
      return resolving(() => resolvePretrainConfig(r.preset, config as Partial<PretrainConfig>));
    case 'finetune': {
      const base = { ...presetConfig('finetune', r.preset) };
      // a submitted image folder alone brings its own held-out split instead of the preset's
      if ((config.dataset as { kind?: unknown } | undefined)?.kind === 'image-folder' && config.evalDataset === undefined) delete base.evalDataset;
      const encoder = r.encoder !== undefined ? { encoder: r.encoder } : {};
      return resolving(() => resolveFinetuneConfig({ ...base, ...config, ...encoder } as Partial<FinetuneConfig>));
    }
    case 'eval': {
      const base = presetConfig('eval', r.preset);
      return resolving(() => resolveEvalConfig({ ...base, ...config } as Partial<EvalConfig>));
    }
  }
}
