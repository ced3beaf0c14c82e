/**
 * The paper's figure for one sampled image: for each exemplar, the crop, the context with the true
 * region outlined, and the map the model predicts (libs/viz), with each map's IoU@0.5. Drawn by
 * `cim visualize` and by workers for the portal.
 */
import { collate, denormalizeToRgb, type CimModel, type CimSample, type SamplerConfig } from '@cim-forge/cim';
import type { RgbImage } from '@cim-forge/data';
import { maskIoU, renderCorrelationFigure } from '@cim-forge/viz';
import { predictMaps } from './evaluate.ts';

export interface CorrelationFigure {
  png: Buffer;
  /** IoU@0.5 of each exemplar's predicted map with its true region */
  iou: number[];
}

export async function drawCorrelationFigure(
  model: CimModel,
  sample: CimSample,
  s: SamplerConfig,
  opts: { scale?: number } = {},
): Promise<CorrelationFigure> {
  const probs = await predictMaps(model, collate([sample], s));
  const [C, S, T] = [s.contextSize, s.exemplarSize, s.numExemplars];
  const rgb = (data: Float32Array, side: number): RgbImage => ({ width: side, height: side, data: denormalizeToRgb(data) });
  const exemplars = Array.from({ length: T }, (_, t) => rgb(sample.exemplars.subarray(t * S * S * 3, (t + 1) * S * S * 3), S));
  const trueMasks = Array.from({ length: T }, (_, t) => sample.masks.subarray(t * C * C, (t + 1) * C * C));
  const predicted = Array.from({ length: T }, (_, t) => probs.subarray(t * C * C, (t + 1) * C * C));
  const png = await renderCorrelationFigure({
    context: rgb(sample.context, C),
    exemplars,
    trueMasks,
    predicted,
    ...(opts.scale ? { scale: opts.scale } : {}),
  });
  return { png, iou: predicted.map((p, t) => maskIoU(p, trueMasks[t])) };
}
