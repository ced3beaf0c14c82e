/**
 * The best exemplar-blind prediction of a correlation map: the centre prior. For each exemplar
 * scale (the true map's area, in equal-count bins of the training set's areas) it predicts the
 * pixels where the training set's mean true map is at least a threshold, the threshold chosen per
 * bin to maximise the training set's mean IoU. It never looks at the exemplar's pixels, only at
 * where exemplars of that size usually are, so a model whose held-out IoU does not clearly beat it
 * has learned a location prior, not correlation (issue 26).
 */
import type { CimBatch } from '@cim-forge/cim';

/** IoU of two binary maps of n pixels from offset 0 (both empty: 1, as evaluate.ts's iou). */
function iou(pred: Uint8Array, truth: Uint8Array, _offset: number, n: number): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < n; i++) {
    if (pred[i] && truth[i]) inter++;
    if (pred[i] || truth[i]) union++;
  }
  return union === 0 ? 1 : inter / union;
}

export interface CentrePrior {
  contextSize: number;
  /** area-fraction edges between the bins (bins.length − 1 of them) */
  edges: number[];
  /** per bin: the thresholded mean map (1 = predicted), C·C; a bin with no training maps uses the pooled one */
  bins: Uint8Array[];
}

const THRESHOLDS = Array.from({ length: 19 }, (_, i) => 0.05 * (i + 1));

function* maps(batches: CimBatch[]): Generator<{ m: Uint8Array; area: number }> {
  for (const b of batches) {
    const px = b.contextSize * b.contextSize;
    for (let k = 0; k < b.numExemplars * b.batchSize; k++) {
      const m = b.masks.subarray(k * px, (k + 1) * px);
      let a = 0;
      for (let i = 0; i < px; i++) a += m[i] ? 1 : 0;
      yield { m, area: a / px };
    }
  }
}

const binOf = (edges: number[], area: number) => edges.filter((e) => area > e).length;

/** The thresholded mean of `group`'s maps that maximises their mean IoU. */
function bestMap(group: Uint8Array[], px: number): Uint8Array {
  const mean = new Float32Array(px);
  for (const m of group) for (let i = 0; i < px; i++) mean[i] += m[i] ? 1 : 0;
  for (let i = 0; i < px; i++) mean[i] /= group.length;
  let best = { score: -1, map: new Uint8Array(px) };
  for (const t of THRESHOLDS) {
    const map = new Uint8Array(px);
    for (let i = 0; i < px; i++) map[i] = mean[i] >= t - 1e-6 ? 1 : 0;
    const score = group.reduce((a, m) => a + iou(map, m, 0, px), 0) / group.length;
    if (score > best.score) best = { score, map };
  }
  return best.map;
}

/** Fits the prior on training maps (`bins` equal-count bins of the true area). */
export function fitCentrePrior(batches: CimBatch[], bins = 5): CentrePrior {
  const all = [...maps(batches)];
  if (!all.length) throw new Error('the centre prior needs at least one training map');
  const C = batches[0].contextSize;
  const px = C * C;
  const areas = all.map((x) => x.area).sort((a, z) => a - z);
  const edges = Array.from({ length: bins - 1 }, (_, i) => areas[Math.floor(((i + 1) * areas.length) / bins)]);
  const pooled = bestMap(
    all.map((x) => x.m),
    px,
  );
  const groups: Uint8Array[][] = Array.from({ length: bins }, () => []);
  for (const x of all) groups[binOf(edges, x.area)].push(x.m);
  return { contextSize: C, edges, bins: groups.map((g) => (g.length ? bestMap(g, px) : pooled)) };
}

/** Mean IoU of the prior's prediction (chosen by each held-out map's true area) with the true maps. */
export function centrePriorIoU(prior: CentrePrior, batches: CimBatch[]): number {
  let sum = 0;
  let n = 0;
  for (const { m, area } of maps(batches)) {
    if (m.length !== prior.contextSize * prior.contextSize) throw new Error('the prior was fitted at another context size');
    sum += iou(prior.bins[binOf(prior.edges, area)], m, 0, m.length);
    n++;
  }
  return n ? sum / n : NaN;
}
