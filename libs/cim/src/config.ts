/**
 * The tfjs-free door of libs/cim: the models' shapes and names, the sampler (its settings and the
 * crop-and-correlate itself, which the data loader runs on worker threads), the seeded generator
 * and the WebGPU adapter probe (workers label their metrics without loading tfjs). Configs and
 * the API validate with it; nothing behind this door imports tfjs.
 */
export * from './vit/config.ts';
export * from './resnet/config.ts';
export * from './cim-model-config.ts';
export * from './sampler/index.ts';
export * from './rng.ts';
export * from './backend/webgpu-adapter.ts';
