/**
 * Intersection over union of a thresholded probability map (pred >= threshold is foreground) and
 * a binary mask (nonzero is foreground), both [H*W]. Two empty masks agree perfectly: IoU 1.
 */
export function maskIoU(pred: Float32Array, truth: Uint8Array, threshold = 0.5): number {
  if (pred.length !== truth.length) {
    throw new RangeError(`maskIoU: prediction has ${pred.length} values but the mask has ${truth.length}`);
  }
  let inter = 0;
  let union = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] >= threshold;
    const t = truth[i] !== 0;
    if (p && t) inter++;
    if (p || t) union++;
  }
  return union === 0 ? 1 : inter / union;
}
