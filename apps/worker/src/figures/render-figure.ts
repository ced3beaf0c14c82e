/**
 * The paper's figure for one image and one checkpoint (as `cim visualize` draws it): the model
 * from its safetensors, the run's own sampler (without colour augmentation, so the exemplars look
 * like the image) and a fixed seed, so the same image gives the same crops at every step and in
 * every run: figures compare side by side.
 */
import { Rng, cimModelConfigFromMetadata, cimModelFromConfig, parseSafetensors, sampleCim } from '@cim-forge/cim';
import { type PretrainConfig, samplerConfigOf } from '@cim-forge/config';
import type { RgbImage } from '@cim-forge/data';
import { drawCorrelationFigure, loadModelSafetensors, type CorrelationFigure } from '@cim-forge/engine';

/** the sampler seed of every figure */
export const FIGURE_SEED = 0;

export type RenderedFigure = CorrelationFigure;

export async function renderFigure(o: {
  modelBytes: Uint8Array;
  config: PretrainConfig;
  image: RgbImage;
  source: string;
}): Promise<RenderedFigure> {
  const cfg = cimModelConfigFromMetadata(parseSafetensors(o.modelBytes, o.source).metadata);
  const sCfg = { ...samplerConfigOf(o.config), augment: false };
  const model = cimModelFromConfig(cfg, 0);
  try {
    loadModelSafetensors(model, o.modelBytes, o.source);
    return await drawCorrelationFigure(model, sampleCim(o.image, sCfg, new Rng(FIGURE_SEED)), sCfg);
  } finally {
    model.dispose();
  }
}
