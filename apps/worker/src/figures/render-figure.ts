/**
 * The paper's figure for one image and one checkpoint (as `cim visualize` draws it): the model
 * from its safetensors, the run's own sampler (without colour augmentation, so the exemplars look
 * like the image) and a fixed seed, so the same image gives the same crops at every step and in
 * every run: figures compare side by side.
 */
import { Rng, cimModelConfigFromMetadata, cimModelFromConfig, collate, denormalizeToRgb, parseSafetensors, sampleCim } from '@cim-forge/cim';
import type { PretrainConfig } from '@cim-forge/config';
import type { RgbImage } from '@cim-forge/data';
import { loadModelSafetensors, predictMaps, samplerConfigOf } from '@cim-forge/engine';
import { maskIoU, renderCorrelationFigure } from '@cim-forge/viz';

/** the sampler seed of every figure */
export const FIGURE_SEED = 0;

export interface RenderedFigure {
  png: Buffer;
  /** IoU@0.5 of each exemplar's predicted map with its true region */
  iou: number[];
}

export async function renderFigure(o: { modelBytes: Uint8Array; config: PretrainConfig; image: RgbImage; source: string }): Promise<RenderedFigure> {
  const cfg = cimModelConfigFromMetadata(parseSafetensors(o.modelBytes, o.source).metadata);
  const sCfg = { ...samplerConfigOf(o.config), augment: false };
  const model = cimModelFromConfig(cfg, 0);
  try {
    loadModelSafetensors(model, o.modelBytes, o.source);
    const sample = sampleCim(o.image, sCfg, new Rng(FIGURE_SEED));
    const probs = await predictMaps(model, collate([sample], sCfg));
    const C = sCfg.contextSize;
    const S = sCfg.exemplarSize;
    const T = sCfg.numExemplars;
    const rgb = (data: Float32Array, side: number): RgbImage => ({ width: side, height: side, data: denormalizeToRgb(data) });
    const exemplars = Array.from({ length: T }, (_, t) => rgb(sample.exemplars.subarray(t * S * S * 3, (t + 1) * S * S * 3), S));
    const trueMasks = Array.from({ length: T }, (_, t) => sample.masks.subarray(t * C * C, (t + 1) * C * C));
    const predicted = Array.from({ length: T }, (_, t) => probs.subarray(t * C * C, (t + 1) * C * C));
    const png = await renderCorrelationFigure({ context: rgb(sample.context, C), exemplars, trueMasks, predicted });
    return { png, iou: predicted.map((p, t) => maskIoU(p, trueMasks[t])) };
  } finally {
    model.dispose();
  }
}
