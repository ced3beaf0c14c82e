/**
 * The sample function the data loader runs (on worker threads): CIM's crop-and-correlate on one
 * image, seeded by the loader's per-sample seed.
 */
import { fileURLToPath } from 'node:url';
import { Rng, sampleCim, type CimSample, type RgbImage, type SamplerConfig } from '@cim-forge/cim/config';

export function cimSample(image: RgbImage, options: unknown, seed: number): CimSample {
  return sampleCim(image, options as SamplerConfig, new Rng(seed));
}

export const cimSampleModule = fileURLToPath(import.meta.url);
