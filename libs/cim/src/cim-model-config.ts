/**
 * Every CIM pre-training model by name — the ViTs (model/config.ts) and the ResNets
 * (resnet/config.ts) — with the config a name and overrides resolve to, and the checkpoint
 * metadata that says which one a file holds. No tfjs: configs and the API validate with this.
 */
import { modelConfigFromMetadata, modelFactories, modelMetadata, type CimModelConfig, type ModelName } from './vit/config.ts';
import {
  checkCimResNetConfig,
  checkResNetConfig,
  cimResNetConfigFromMetadata,
  cimResNetFactories,
  cimResNetMetadata,
  type CimResNetConfig,
  type CimResNetOverrides,
} from './resnet/config.ts';

/** The backbone family, as written in a checkpoint's `architecture` metadata. */
export type CimArchitecture = 'cim-vit' | 'cim-resnet';
export type CimResNetName = keyof typeof cimResNetFactories;
/** a ViT name (`cimVitMicroPatch4`, …) or a ResNet name (`cimResnetMicro`, `cimResnet50`) */
export type CimModelName = ModelName | CimResNetName;
export type AnyCimModelConfig = CimModelConfig | CimResNetConfig;
export type CimModelOverrides = Partial<CimModelConfig> | CimResNetOverrides;

export const cimModelNames: readonly CimModelName[] = [
  ...(Object.keys(modelFactories) as ModelName[]),
  ...(Object.keys(cimResNetFactories) as CimResNetName[]),
];

export function isCimModelName(name: string): name is CimModelName {
  return (cimModelNames as readonly string[]).includes(name);
}

export function isResNetName(name: string): name is CimResNetName {
  return Object.hasOwn(cimResNetFactories, name);
}

export function architectureOf(c: AnyCimModelConfig): CimArchitecture {
  return 'backbone' in c ? 'cim-resnet' : 'cim-vit';
}

/** Override keys that `base` lacks (a typo, or a ViT field given to a ResNet): refused, not ignored. */
function checkKeys(name: string, o: object, base: object, what = 'modelOverrides'): void {
  const unknown = Object.keys(o).filter((k) => !Object.hasOwn(base, k));
  if (unknown.length) throw new Error(`${what} of ${name}: unknown field(s) ${unknown.join(', ')}; known: ${Object.keys(base).join(', ')}`);
}

/** The config a model name and overrides resolve to; a ResNet's `backbone` overrides merge field by field. */
export function cimModelConfig(name: CimModelName, overrides: CimModelOverrides = {}): AnyCimModelConfig {
  if (isResNetName(name)) {
    const base = cimResNetFactories[name]();
    const { backbone = {}, ...rest } = overrides as CimResNetOverrides;
    checkKeys(name, rest, base);
    checkKeys(name, backbone, base.backbone, 'modelOverrides.backbone');
    return checkCimResNetConfig({ ...base, ...rest, backbone: checkResNetConfig({ ...base.backbone, ...backbone }) });
  }
  const factory = Object.hasOwn(modelFactories, name) ? modelFactories[name as ModelName] : undefined;
  if (!factory) throw new Error(`unknown model "${name}"; choose one of ${cimModelNames.join(', ')}`);
  checkKeys(name, overrides, factory());
  return factory(overrides as Partial<CimModelConfig>);
}

/** What a checkpoint's model.safetensors carries in its header to say which model it holds. */
export function cimModelMetadata(c: AnyCimModelConfig): Record<string, string> {
  return architectureOf(c) === 'cim-resnet'
    ? cimResNetMetadata(c as CimResNetConfig)
    : { architecture: 'cim-vit', ...modelMetadata(c as CimModelConfig) };
}

/** The inverse of `cimModelMetadata`; a file without `architecture` (the authors' fixture) is a ViT. */
export function cimModelConfigFromMetadata(m: Record<string, string>): AnyCimModelConfig {
  const arch = m.architecture ?? 'cim-vit';
  if (arch === 'cim-resnet') return cimResNetConfigFromMetadata(m);
  if (arch === 'cim-vit') return modelConfigFromMetadata(m);
  throw new Error(`unknown architecture "${arch}" in the weights' metadata (known: cim-vit, cim-resnet)`);
}
