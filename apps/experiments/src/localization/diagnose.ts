/**
 * `npm run experiment:localization -- RUN_DIR…`: does a pre-trained CIM model localize its
 * exemplars, or only predict where exemplars usually are? (issue 26, docs/localization.md)
 *
 * For each run's checkpoints (or only the latest, without --all), on the held-out images the
 * pre-training's own evaluation uses (fashion-mnist test, loader seed 12345), beside the centre
 * prior fitted on as many training images:
 *   iou@0.5, iou@best   the model's map thresholded at 0.5 (what `pretrain` reports) and at the
 *                       threshold that is best on the training images (the prior chooses its own too)
 *   prior, blind        the centre prior with 5 bins of the *true* area (it is told the scale) and
 *                       with one bin (told nothing: the truly exemplar-blind map)
 *   loss, prior loss    the correlation loss (Σ over exemplars of the mean per-pixel CE) of the model
 *                       and of the prior's mean maps used as probabilities
 *   swap Δp             mean |p − p'| when each image gets another image's exemplars
 *   own−other           IoU of a map with its own exemplar's true map minus with the other exemplars'
 *                       true maps of the same image (0 = the map does not depend on which exemplar)
 *   spread              per-pixel std of the maps across one image's exemplars, model vs truth
 */
import { parseArgs } from 'node:util';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cimModelConfigFromMetadata, cimModelFromConfig, initBackend, parseSafetensors, type CimBatch } from '@cim-forge/cim';
import { parseRunConfig, type PretrainConfig } from '@cim-forge/config';
import {
  evalSourceSpec,
  fitCentrePrior,
  iou,
  loadModelSafetensors,
  mismatchExemplars,
  predictMaps,
  priorSourceSpec,
  sampleBatches,
  type CentrePrior,
} from '@cim-forge/engine';

/** the bin a map of `area` falls in, and the prior's mean map (as probabilities) per bin */
interface SoftPrior {
  edges: number[];
  mean: Float32Array[];
}
function softPrior(batches: CimBatch[], bins: number): SoftPrior {
  const all: { m: Uint8Array; a: number }[] = [];
  for (const b of batches) {
    const px = b.contextSize ** 2;
    for (let k = 0; k < b.numExemplars * b.batchSize; k++) {
      const m = b.masks.subarray(k * px, (k + 1) * px);
      all.push({ m, a: m.reduce((s, v) => s + v, 0) / px });
    }
  }
  const areas = all.map((x) => x.a).sort((a, z) => a - z);
  const edges = Array.from({ length: bins - 1 }, (_, i) => areas[Math.floor(((i + 1) * areas.length) / bins)]);
  const px = batches[0].contextSize ** 2;
  const mean = Array.from({ length: bins }, () => new Float32Array(px));
  const n = new Array<number>(bins).fill(0);
  for (const x of all) {
    const k = edges.filter((e) => x.a > e).length;
    n[k]++;
    for (let i = 0; i < px; i++) mean[k][i] += x.m[i];
  }
  mean.forEach((m, k) => m.forEach((_, i) => (m[i] = Math.min(1 - 1e-4, Math.max(1e-4, m[i] / Math.max(1, n[k]))))));
  return { edges, mean };
}
const binOf = (edges: number[], area: number) => edges.filter((e) => area > e).length;

const ce = (p: number, y: number) => -Math.log(y ? Math.max(p, 1e-7) : Math.max(1 - p, 1e-7));
const THRESHOLDS = Array.from({ length: 19 }, (_, i) => 0.05 * (i + 1));

export interface Diagnosis {
  step: number;
  iou: number;
  iouBest: number;
  threshold: number;
  prior: number;
  blind: number;
  loss: number;
  priorLoss: number;
  blindLoss: number;
  swappedIoU: number;
  swapDeltaP: number;
  ownMinusOther: number;
  /** mean IoU of two true maps of one image: how different the exemplars' answers are at all */
  truthOverlap: number;
  spreadModel: number;
  spreadTruth: number;
  /** IoU of the model and of the 5-bin prior per area bin (small → large exemplars) */
  byScale: { model: number; prior: number }[];
}

export async function diagnose(
  modelBytes: Uint8Array,
  source: string,
  config: PretrainConfig,
  step: number,
  data: { held: CimBatch[]; train: CimBatch[]; prior: CentrePrior; blindPrior: CentrePrior; soft: SoftPrior; blindSoft: SoftPrior },
): Promise<Diagnosis> {
  const model = cimModelFromConfig(cimModelConfigFromMetadata(parseSafetensors(modelBytes, source).metadata), 0);
  try {
    loadModelSafetensors(model, modelBytes, source);
    // the threshold that is best on training maps (the prior gets the same chance)
    const trainScores = THRESHOLDS.map(() => 0);
    let trainN = 0;
    for (const b of data.train.slice(0, 4)) {
      const p = await predictMaps(model, b);
      const px = b.contextSize ** 2;
      for (let k = 0; k < b.numExemplars * b.batchSize; k++, trainN++)
        THRESHOLDS.forEach((t, j) => (trainScores[j] += iou(p, b.masks, k * px, px, t)));
    }
    const threshold = THRESHOLDS[trainScores.indexOf(Math.max(...trainScores))];
    const acc = {
      iou: 0,
      iouBest: 0,
      prior: 0,
      blind: 0,
      loss: 0,
      priorLoss: 0,
      blindLoss: 0,
      swappedIoU: 0,
      swapDeltaP: 0,
      own: 0,
      other: 0,
      truthOverlap: 0,
      otherN: 0,
      spreadM: 0,
      spreadT: 0,
      n: 0,
      images: 0,
    };
    const byScale = Array.from({ length: 5 }, () => ({ model: 0, prior: 0, n: 0 }));
    for (const b of data.held) {
      const p = await predictMaps(model, b);
      const q = await predictMaps(model, mismatchExemplars(b));
      const px = b.contextSize ** 2;
      const B = b.batchSize;
      const T = b.numExemplars;
      for (let k = 0; k < T * B; k++) {
        const m = b.masks.subarray(k * px, (k + 1) * px);
        const area = m.reduce((s, v) => s + v, 0) / px;
        const own = iou(p, b.masks, k * px, px);
        const pri = iou(data.prior.bins[binOf(data.prior.edges, area)], m, 0, px);
        acc.iou += own;
        acc.iouBest += iou(p, b.masks, k * px, px, threshold);
        acc.prior += pri;
        acc.blind += iou(data.blindPrior.bins[0], m, 0, px);
        acc.swappedIoU += iou(q, b.masks, k * px, px);
        const soft = data.soft.mean[binOf(data.soft.edges, area)];
        for (let i = 0; i < px; i++) {
          acc.loss += ce(p[k * px + i], m[i]) / px;
          acc.priorLoss += ce(soft[i], m[i]) / px;
          acc.blindLoss += ce(data.blindSoft.mean[0][i], m[i]) / px;
          acc.swapDeltaP += Math.abs(p[k * px + i] - q[k * px + i]) / px;
        }
        const s = byScale[binOf(data.prior.edges, area)];
        s.model += own;
        s.prior += pri;
        s.n++;
        // the same image's other exemplars (template-major: k = t·B + i)
        const i0 = k % B;
        const mine = p.subarray(k * px, (k + 1) * px);
        for (let t = 0; t < T; t++) {
          const j = t * B + i0;
          if (j === k) continue;
          acc.other += iou(mine, b.masks.subarray(j * px, (j + 1) * px), 0, px);
          acc.truthOverlap += iou(m, b.masks.subarray(j * px, (j + 1) * px), 0, px);
          acc.otherN++;
        }
        acc.own += own;
        acc.n++;
      }
      for (let i0 = 0; i0 < B; i0++) {
        for (let i = 0; i < px; i++) {
          let sp = 0,
            sp2 = 0,
            st = 0,
            st2 = 0;
          for (let t = 0; t < T; t++) {
            const v = p[(t * B + i0) * px + i];
            const y = b.masks[(t * B + i0) * px + i];
            sp += v;
            sp2 += v * v;
            st += y;
            st2 += y * y;
          }
          acc.spreadM += Math.sqrt(Math.max(0, sp2 / T - (sp / T) ** 2)) / px;
          acc.spreadT += Math.sqrt(Math.max(0, st2 / T - (st / T) ** 2)) / px;
        }
        acc.images++;
      }
    }
    const T = data.held[0].numExemplars;
    return {
      step,
      iou: acc.iou / acc.n,
      iouBest: acc.iouBest / acc.n,
      threshold,
      prior: acc.prior / acc.n,
      blind: acc.blind / acc.n,
      loss: (T * acc.loss) / acc.n,
      priorLoss: (T * acc.priorLoss) / acc.n,
      blindLoss: (T * acc.blindLoss) / acc.n,
      swappedIoU: acc.swappedIoU / acc.n,
      swapDeltaP: acc.swapDeltaP / acc.n,
      ownMinusOther: acc.own / acc.n - acc.other / acc.otherN,
      truthOverlap: acc.truthOverlap / acc.otherN,
      spreadModel: acc.spreadM / acc.images,
      spreadTruth: acc.spreadT / acc.images,
      byScale: byScale.map((s) => ({ model: s.model / s.n, prior: s.prior / s.n })),
    };
  } finally {
    model.dispose();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { all: { type: 'boolean' }, images: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (!positionals.length) throw new Error('usage: npm run experiment:localization -- [--all] [--images N] RUN_DIR…');
  await initBackend('tensorflow');
  const images = Number(values.images ?? 256);
  for (const run of positionals.map((p) => resolve(p))) {
    const dir = join(run, 'checkpoints');
    if (!existsSync(dir)) throw new Error(`${run}: no checkpoints/ folder`);
    const ids = readdirSync(dir)
      .filter((d) => existsSync(join(dir, d, 'model.safetensors')))
      .sort();
    const chosen = values.all ? ids : ids.slice(-1);
    const state = JSON.parse(await readFile(join(dir, ids[ids.length - 1], 'state.json'), 'utf8')) as { config: unknown };
    const config = parseRunConfig('pretrain', state.config);
    const held = await sampleBatches(config, evalSourceSpec(config.dataset, images), 32, 12345);
    const train = await sampleBatches(config, priorSourceSpec(config.dataset, Math.max(images, 64)), 32, 777);
    const data = {
      held,
      train,
      prior: fitCentrePrior(train, 5),
      blindPrior: fitCentrePrior(train, 1),
      soft: softPrior(train, 5),
      blindSoft: softPrior(train, 1),
    };
    console.log(`# ${run}: ${held.reduce((a, b) => a + b.batchSize, 0)} held-out images × ${held[0].numExemplars} exemplars`);
    console.log(
      'step | iou@0.5 | iou@best (t) | prior (5 bins, told the area) | blind prior | loss | prior loss | blind ' +
        'loss | swapped iou | swap Δp | own−other | true-map overlap | spread model/truth | by scale: model/prior',
    );
    for (const id of chosen) {
      const st = JSON.parse(await readFile(join(dir, id, 'state.json'), 'utf8')) as { step: number };
      const file = join(dir, id, 'model.safetensors');
      const d = await diagnose(new Uint8Array(await readFile(file)), file, config, st.step, data);
      if (values.json) console.log(JSON.stringify(d));
      const f = (x: number) => x.toFixed(3);
      console.log(
        [
          d.step,
          f(d.iou),
          `${f(d.iouBest)} (${d.threshold.toFixed(2)})`,
          f(d.prior),
          f(d.blind),
          f(d.loss),
          f(d.priorLoss),
          f(d.blindLoss),
          f(d.swappedIoU),
          f(d.swapDeltaP),
          f(d.ownMinusOther),
          f(d.truthOverlap),
          `${f(d.spreadModel)}/${f(d.spreadTruth)}`,
          d.byScale.map((s) => `${s.model.toFixed(2)}/${s.prior.toFixed(2)}`).join(' '),
        ].join(' | '),
      );
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
