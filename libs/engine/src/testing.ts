/** Small configs and batches for the engine's tests. */
import { Rng, collate, sampleCim, type CimBatch } from '@cim-forge/cim';
import { syntheticSource } from '@cim-forge/data';
import { resolvePretrainConfig, samplerConfigOf, type PretrainConfig } from '@cim-forge/config';

/** A model small enough that a step takes tens of milliseconds on wasm. */
export function tinyConfig(o: Partial<PretrainConfig> = {}): PretrainConfig {
  return resolvePretrainConfig('smoke', {
    modelOverrides: { embedDim: 32, depth: 2, numHeads: 2, decoderEmbedDim: 32, decoderNumHeads: 2 },
    batchSize: 4,
    workers: 0,
    evalImages: 0,
    dataset: { kind: 'synthetic', size: 64, imageSize: 48, seed: 3 },
    ...o,
  });
}

/** A micro ResNet cut down further (widths 8..32, 32-d decoder): tens of milliseconds a step on wasm. */
export function tinyResNetConfig(o: Partial<PretrainConfig> = {}): PretrainConfig {
  return tinyConfig({
    model: 'cimResnetMicro',
    modelOverrides: { backbone: { widths: [8, 16, 16, 32], stemWidth: 8 }, decoderEmbedDim: 32, decoderNumHeads: 2 },
    ...o,
  });
}

export function syntheticBatches(config: PretrainConfig, n: number, seed = 1): CimBatch[] {
  const src = syntheticSource({ size: n * config.batchSize, imageSize: 48, seed });
  const s = samplerConfigOf(config);
  const out: CimBatch[] = [];
  for (let b = 0; b < n; b++) {
    const samples = [];
    for (let i = 0; i < config.batchSize; i++)
      samples.push(sampleCim(src.get(b * config.batchSize + i) as never, s, new Rng(seed * 1000 + b * 100 + i)));
    out.push(collate(samples, s));
  }
  return out;
}
