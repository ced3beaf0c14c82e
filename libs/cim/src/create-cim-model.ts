/** A CIM model from a name (or a resolved config): the one place that picks the backbone class. */
import { architectureOf, cimModelConfig, type AnyCimModelConfig, type CimModelName, type CimModelOverrides } from './cim-model-config.ts';
import type { CimModel } from './cim-model.ts';
import { CimViT } from './vit/cim-vit.ts';
import type { CimModelConfig } from './vit/config.ts';
import { CimResNet } from './resnet/cim-resnet.ts';
import type { CimResNetConfig } from './resnet/config.ts';

export function cimModelFromConfig(config: AnyCimModelConfig, seed = 0): CimModel {
  return architectureOf(config) === 'cim-resnet'
    ? new CimResNet(config as CimResNetConfig, seed)
    : new CimViT(config as CimModelConfig, seed);
}

/** `createCimModel('cimResnetMicro', { decoderEmbedDim: 32 }, seed)` */
export function createCimModel(name: CimModelName, overrides: CimModelOverrides = {}, seed = 0): CimModel {
  return cimModelFromConfig(cimModelConfig(name, overrides), seed);
}
