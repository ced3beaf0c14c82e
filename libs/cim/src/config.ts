/** The tfjs-free part of libs/cim: model shapes and sampler settings (what configs and the API need). */
export * from './model/config.ts';
export * from './resnet/config.ts';
export * from './cim-model-config.ts';
export type { SamplerConfig } from './sampler/types.ts';
export { officialSamplerConfig, smallSamplerConfig, samplerConfig, validateSamplerConfig } from './sampler/config.ts';
