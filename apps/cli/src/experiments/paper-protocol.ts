/**
 * Issue 15's protocol on the micro ResNet (`npm run experiment:paper-mini -- --budget protocol`):
 *
 *   1. pre-train CIM (cimResnetMicro) on all 60k Fashion-MNIST train images, labels unused, keeping
 *      a checkpoint every `ptCheckpointEvery` steps; then the curve: held-out correlation loss,
 *      map IoU and the mismatched-exemplar gap of every kept checkpoint (plateau = the last third
 *      of the curve gains < 1 IoU point);
 *   2. per arm (scratch, CIM online encoder, CIM target encoder) and label fraction (1%, 10%, 100%),
 *      a grid over base lr × layer decay at half the final epochs, the same for every arm, each point scored
 *      on a validation split carved from train (10%, stratified, split seed 0), never on test;
 *   3. the best grid point per (arm, fraction) fine-tuned with every seed; its final weights
 *      scored once on the 10k test split;
 *   4. linear probe and k-NN (k = 20, cosine) on frozen features per arm and seed, with the
 *      features' statistics (effective rank, per-dimension std, collapse flag);
 *   5. robustness of the 10%-label models: clean, FGSM and PGD top-1, mCE over the seven corruptions.
 *
 * Every job writes OUT/<job>/result.json last; a rerun skips finished jobs and resumes fine-tunes
 * and the pre-training from their checkpoints. Jobs run one at a time in this process on the
 * native tensorflow backend (it uses both cores by itself).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { createCimModel, initBackend } from '@cim-forge/cim';
import type { SourceSpec } from '@cim-forge/data';
import {
  CORRUPTIONS,
  defaultProbeConfig,
  evaluateOn,
  evaluateRobustness,
  finetune,
  JsonlMetricsSink,
  linearProbe,
  loadImageClassifierFile,
  loadLabelledImages,
  loadModelSafetensors,
  LocalCheckpointStore,
  pretrain,
  type ProbeConfig,
} from '@cim-forge/engine';
import { resolveFinetuneConfig, resolvePretrainConfig, type FinetuneConfig, type PretrainConfig } from '@cim-forge/config';

export const PROTOCOL_MODEL = 'cimResnetMicro' as const;
export type Arm = 'scratch' | 'cim-online' | 'cim-target';
export const ARMS: Arm[] = ['scratch', 'cim-online', 'cim-target'];

export interface ProtocolBudget {
  description: string;
  /** train images (all 60k) and pre-training epochs, batch, base lr, warmup */
  trainImages: number;
  ptEpochs: number;
  ptBatch: number;
  ptBaseLr: number;
  ptWarmupEpochs: number;
  /** optimizer steps between the checkpoints the curve evaluates */
  ptCheckpointEvery: number;
  /** held-out (test-split) images for the pre-training curve: correlation loss, IoU, mismatched gap */
  ptCurveImages: number;
  /** test images scored at the end of each final fine-tune and by probes (0 = the whole 10k test split) */
  testImages: number;
  /** fraction of train carved out as the validation split (stratified, split seed 0) */
  valFraction: number;
  fractions: number[];
  /** fine-tuning epochs per label fraction (fewer labels, more epochs) */
  ftEpochs: Record<string, number>;
  ftBatch: number;
  ftWarmupEpochs: number;
  /** the grid searched per arm and fraction (same for every arm), each point at gridEpochScale × the epochs */
  lrGrid: number[];
  gridEpochScale: number;
  layerDecayGrid: number[];
  probeEpochs: number;
  knnK: number;
  robustImages: number;
  /** L∞ radius in pixel units [0, 1] */
  robustEps: number;
  pgdSteps: number;
  severities: number[];
}

/**
 * Throughputs on the 2-core dev box (docs/paper-protocol.md), tensorflow backend: ResNet
 * fine-tuning at 32 px, batch 128, the median per-step rate measured with the box shared (load
 * 13–17; 139 img/s at the 90th percentile). Pre-training and feature extraction were not measured
 * at this size: PT_IMAGES_PER_SEC and FEATURE_IMAGES_PER_SEC are estimates.
 */
export const FT_IMAGES_PER_SEC = 63;
export const PT_IMAGES_PER_SEC = 40;
/** frozen-feature extraction (eval mode, no gradient) is about 3× a training step's speed */
export const FEATURE_IMAGES_PER_SEC = 300;

export const protocolBudgets: Record<'protocol' | 'protocol-tiny', ProtocolBudget> = {
  protocol: {
    description:
      'issue 15 on cimResnetMicro: 60k-image pre-training with curves, per-arm lr × layer-decay grid on a validation split, 1/10/100% fine-tunes, probe, k-NN, robustness, 3 seeds',
    trainImages: 60000,
    ptEpochs: 10,
    ptBatch: 64,
    ptBaseLr: 0.02,
    ptWarmupEpochs: 0.5,
    ptCheckpointEvery: 938,
    ptCurveImages: 1024,
    testImages: 0,
    valFraction: 0.1,
    fractions: [0.01, 0.1, 1],
    ftEpochs: { '0.01': 60, '0.1': 20, '1': 5 },
    ftBatch: 128,
    ftWarmupEpochs: 0.5,
    lrGrid: [2e-3, 8e-3],
    gridEpochScale: 0.5,
    layerDecayGrid: [1, 0.75],
    probeEpochs: 30,
    knnK: 20,
    robustImages: 1000,
    robustEps: 2 / 255,
    pgdSteps: 10,
    severities: [1, 2, 3, 4, 5],
  },
  'protocol-tiny': {
    description: 'the protocol pipeline on 640 images in a few minutes: a smoke test, its numbers mean nothing',
    trainImages: 640,
    ptEpochs: 1,
    ptBatch: 32,
    ptBaseLr: 0.02,
    ptWarmupEpochs: 0.1,
    ptCheckpointEvery: 10,
    ptCurveImages: 64,
    testImages: 200,
    valFraction: 0.1,
    fractions: [0.1, 1],
    ftEpochs: { '0.1': 2, '1': 1 },
    ftBatch: 32,
    ftWarmupEpochs: 0,
    lrGrid: [4e-3],
    gridEpochScale: 1,
    layerDecayGrid: [1],
    probeEpochs: 3,
    knnK: 20,
    robustImages: 32,
    robustEps: 2 / 255,
    pgdSteps: 2,
    severities: [3],
  },
};
export type ProtocolBudgetName = keyof typeof protocolBudgets;

export type ProtocolJob =
  | { id: string; kind: 'pretrain' }
  | { id: string; kind: 'pt-curve' }
  | { id: string; kind: 'grid'; arm: Arm; fraction: number; baseLr: number; layerDecay: number }
  | { id: string; kind: 'ft'; arm: Arm; fraction: number; seed: number }
  | { id: string; kind: 'probe'; arm: Arm; seed: number }
  | { id: string; kind: 'robust'; arm: Arm; seed: number };

const pct = (f: number) => `${+(100 * f).toFixed(2)}`;
export const gridId = (arm: Arm, fraction: number, lr: number, ld: number) => `grid-${arm}-f${pct(fraction)}-lr${lr}-ld${ld}`;
export const ftId = (arm: Arm, fraction: number, seed: number) => `ft-${arm}-f${pct(fraction)}-s${seed}`;

/** Every job in an order that respects the dependencies (pre-training → grid → fine-tunes → robustness). */
export function planProtocol(b: ProtocolBudget, seeds: number[]): ProtocolJob[] {
  const jobs: ProtocolJob[] = [
    { id: 'pretrain', kind: 'pretrain' },
    { id: 'pt-curve', kind: 'pt-curve' },
  ];
  for (const arm of ARMS) {
    for (const fraction of b.fractions) {
      for (const baseLr of b.lrGrid)
        for (const layerDecay of b.layerDecayGrid)
          jobs.push({ id: gridId(arm, fraction, baseLr, layerDecay), kind: 'grid', arm, fraction, baseLr, layerDecay });
    }
  }
  for (const arm of ARMS)
    for (const fraction of b.fractions)
      for (const seed of seeds) jobs.push({ id: ftId(arm, fraction, seed), kind: 'ft', arm, fraction, seed });
  for (const arm of ARMS) for (const seed of seeds) jobs.push({ id: `probe-${arm}-s${seed}`, kind: 'probe', arm, seed });
  if (b.fractions.includes(0.1))
    for (const arm of ARMS) for (const seed of seeds) jobs.push({ id: `robust-${arm}-s${seed}`, kind: 'robust', arm, seed });
  return jobs;
}

const trainSpec = (b: ProtocolBudget): SourceSpec => ({
  kind: 'fashion-mnist',
  split: 'train',
  ...(b.trainImages < 60000 ? { limit: b.trainImages } : {}),
});
const testSpec = (limit?: number): SourceSpec => ({ kind: 'fashion-mnist', split: 'test', ...(limit ? { limit } : {}) });

export function protocolPretrainConfig(b: ProtocolBudget): PretrainConfig {
  return resolvePretrainConfig('cpu-resnet', {
    dataset: trainSpec(b),
    epochs: b.ptEpochs,
    batchSize: b.ptBatch,
    baseLr: b.ptBaseLr,
    warmupEpochs: b.ptWarmupEpochs,
    seed: 0,
    checkpointEvery: b.ptCheckpointEvery,
    keepCheckpoints: 1000,
    keepBest: 0,
    evalImages: b.ptCurveImages,
  });
}

/**
 * One fine-tune: the same recipe for every arm (light augmentation: 32-px grey images, a 0.3 M
 * network), only the encoder it starts from differs. Scored every epoch on the validation split;
 * the test split once at the end (FinetuneConfig.valFraction).
 */
export function protocolFinetuneConfig(
  b: ProtocolBudget,
  o: { arm: Arm; fraction: number; seed: number; baseLr: number; layerDecay: number; initFrom: string | null; grid?: boolean },
): FinetuneConfig {
  const epochs = b.ftEpochs[String(o.fraction)] * (o.grid ? b.gridEpochScale : 1);
  if (!epochs) throw new Error(`budget has no fine-tuning epochs for fraction ${o.fraction}`);
  return resolveFinetuneConfig({
    model: PROTOCOL_MODEL,
    initFrom: o.arm === 'scratch' ? null : o.initFrom,
    encoder: o.arm === 'cim-target' ? 'target' : 'online',
    dataset: trainSpec(b),
    evalDataset: testSpec(b.testImages),
    valFraction: b.valFraction,
    labelsFraction: o.fraction,
    epochs,
    warmupEpochs: b.ftWarmupEpochs,
    batchSize: b.ftBatch,
    baseLr: o.baseLr,
    layerDecay: o.layerDecay,
    weightDecay: 0.05,
    dropPath: 0,
    mixup: 0,
    cutmix: 0,
    reprob: 0,
    randAugment: null,
    labelSmoothing: 0.1,
    seed: o.seed,
    checkpointEvery: 200,
    evalImages: 0,
  });
}

export function protocolProbeConfig(b: ProtocolBudget, arm: Arm, seed: number, initFrom: string | null): ProbeConfig {
  return {
    ...defaultProbeConfig,
    model: PROTOCOL_MODEL,
    initFrom: arm === 'scratch' ? null : initFrom,
    encoder: arm === 'cim-target' ? 'target' : 'online',
    dataset: trainSpec(b),
    evalDataset: testSpec(b.testImages),
    epochs: b.probeEpochs,
    seed,
    knnK: b.knnK,
  };
}

/** Estimated seconds per phase at the measured throughputs (one job at a time). */
export function estimateProtocolSeconds(b: ProtocolBudget, seeds: number): Record<string, number> {
  const train = b.trainImages * (1 - b.valFraction);
  const test = 10000;
  const ftImages = (f: number) => train * f * b.ftEpochs[String(f)];
  const gridPoints = b.lrGrid.length * b.layerDecayGrid.length;
  const ftSum = b.fractions.reduce((a, f) => a + ftImages(f), 0);
  const robustPasses = 1 + 1 + b.pgdSteps + 7 * b.severities.length; // clean, FGSM, PGD steps, corruptions (× ~3 for a gradient pass)
  return {
    pretrain: (b.trainImages * b.ptEpochs) / PT_IMAGES_PER_SEC,
    ptCurve: (Math.ceil((b.trainImages * b.ptEpochs) / b.ptBatch / b.ptCheckpointEvery) * b.ptCurveImages * 7) / FEATURE_IMAGES_PER_SEC,
    grid: (ARMS.length * gridPoints * ftSum * b.gridEpochScale) / FT_IMAGES_PER_SEC,
    finetune:
      (ARMS.length * seeds * ftSum) / FT_IMAGES_PER_SEC + (ARMS.length * seeds * b.fractions.length * test) / FEATURE_IMAGES_PER_SEC,
    probe: (ARMS.length * seeds * (b.trainImages + test)) / FEATURE_IMAGES_PER_SEC,
    robust: (ARMS.length * seeds * b.robustImages * robustPasses * 3) / FEATURE_IMAGES_PER_SEC,
  };
}

// ---- running ----------------------------------------------------------------------------------

interface ProtocolResult {
  id: string;
  seconds: number;
  [k: string]: unknown;
}

async function writeJson(p: string, v: unknown): Promise<void> {
  await mkdir(dirname(p), { recursive: true });
  await writeFile(`${p}.tmp`, JSON.stringify(v, null, 2));
  await rename(`${p}.tmp`, p);
}

async function readJson<T>(p: string): Promise<T | undefined> {
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(await readFile(p, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The best grid point (validation top-1; ties: the earlier point) of an arm and fraction. */
export function bestGridPoint(
  b: ProtocolBudget,
  arm: Arm,
  fraction: number,
  results: Map<string, ProtocolResult>,
): { baseLr: number; layerDecay: number; valTop1: number } {
  let best: { baseLr: number; layerDecay: number; valTop1: number } | undefined;
  for (const baseLr of b.lrGrid) {
    for (const layerDecay of b.layerDecayGrid) {
      const r = results.get(gridId(arm, fraction, baseLr, layerDecay));
      if (!r) throw new Error(`grid point ${gridId(arm, fraction, baseLr, layerDecay)} has no result`);
      const valTop1 = r.valTop1 as number;
      if (!best || valTop1 > best.valTop1) best = { baseLr, layerDecay, valTop1 };
    }
  }
  return best!;
}

async function latestPretrainWeights(out: string): Promise<string> {
  const store = new LocalCheckpointStore(join(out, 'pretrain', 'checkpoints'));
  const last = (await store.list()).at(-1);
  if (!last) throw new Error('pre-training has no checkpoint');
  return join(out, 'pretrain', 'checkpoints', last.id, 'model.safetensors');
}

async function runProtocolJob(
  b: ProtocolBudget,
  job: ProtocolJob,
  out: string,
  results: Map<string, ProtocolResult>,
  log: (m: string) => void,
): Promise<ProtocolResult> {
  const dir = join(out, job.id);
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  const done = (r: Record<string, unknown>): ProtocolResult => ({ id: job.id, ...r, seconds: (performance.now() - t0) / 1000 });
  const cimWeights = job.kind === 'pretrain' ? null : await latestPretrainWeights(out).catch(() => null);
  // grid points never see the test split; final fine-tunes score it once at the end
  const ftRun = async (config: FinetuneConfig, scoreTest: boolean) => {
    await writeJson(join(dir, 'config.json'), config);
    const res = await finetune({
      config,
      scoreTest,
      store: new LocalCheckpointStore(join(dir, 'checkpoints')),
      metrics: new JsonlMetricsSink(join(dir, 'metrics.jsonl')),
      resume: true,
      hooks: { log, onEval: (e) => log(`epoch ${e.epoch.toFixed(1)} validation top-1 ${(100 * e.top1).toFixed(2)}%`) },
    });
    if (res.finalStep < res.totalSteps) throw new Error(`fine-tuning stopped at ${res.finalStep}/${res.totalSteps}`);
    return res;
  };
  switch (job.kind) {
    case 'pretrain': {
      const config = protocolPretrainConfig(b);
      await writeJson(join(dir, 'config.json'), config);
      const res = await pretrain({
        config,
        store: new LocalCheckpointStore(join(dir, 'checkpoints')),
        metrics: new JsonlMetricsSink(join(dir, 'metrics.jsonl')),
        resume: true,
        hooks: { log },
      });
      if (res.stopped) throw new Error('pre-training stopped early');
      return done({ steps: res.steps, earlyLoss: res.earlyLoss, lateLoss: res.lateLoss, eval: res.eval });
    }
    case 'pt-curve': {
      const config = protocolPretrainConfig(b);
      const ckDir = join(out, 'pretrain', 'checkpoints');
      const ids = (await readdir(ckDir)).filter((d) => d.startsWith('step-')).sort();
      const curve: Array<Record<string, number>> = [];
      for (const id of ids) {
        const model = createCimModel(PROTOCOL_MODEL, {}, 0);
        try {
          loadModelSafetensors(model, new Uint8Array(await readFile(join(ckDir, id, 'model.safetensors'))), id);
          const r = await evaluateOn(model, config, testSpec(b.ptCurveImages));
          curve.push({
            step: Number(id.slice(5)),
            loss: r.loss,
            meanIoU: r.meanIoU,
            allOnesIoU: r.allOnesIoU,
            mismatchedGap: r.mismatchedLoss - r.loss,
          });
          log(
            `pt-curve ${id}: held-out loss ${r.loss.toFixed(4)}, IoU ${(100 * r.meanIoU).toFixed(2)}, mismatched gap ${(r.mismatchedLoss - r.loss).toFixed(4)}`,
          );
        } finally {
          model.dispose();
        }
      }
      const third = curve.slice(Math.floor((2 * curve.length) / 3));
      const plateau = third.length >= 2 && third.at(-1)!.meanIoU - third[0].meanIoU < 0.01;
      return done({ curve, plateau });
    }
    case 'grid': {
      const res = await ftRun(protocolFinetuneConfig(b, { ...job, seed: 0, initFrom: cimWeights, grid: true }), false);
      return done({ valTop1: res.top1, evals: res.evals });
    }
    case 'ft': {
      const best = bestGridPoint(b, job.arm, job.fraction, results);
      const res = await ftRun(protocolFinetuneConfig(b, { ...job, ...best, initFrom: cimWeights }), true);
      return done({ chosen: best, valTop1: res.top1, testTop1: res.test?.top1, evals: res.evals, checkpoint: res.lastCheckpoint });
    }
    case 'probe': {
      const res = await linearProbe({ config: protocolProbeConfig(b, job.arm, job.seed, cimWeights), log });
      return done({ testTop1: res.top1, knnTop1: res.knnTop1, features: res.features });
    }
    case 'robust': {
      const ft = results.get(ftId(job.arm, 0.1, job.seed));
      if (!ft) throw new Error(`robustness needs ${ftId(job.arm, 0.1, job.seed)}`);
      const model = await loadImageClassifierFile(join(out, ft.id, 'checkpoints', ft.checkpoint as string, 'model.safetensors'));
      try {
        const data = await loadLabelledImages(testSpec(b.robustImages), model.config.imgSize);
        const rep = await evaluateRobustness({
          forward: (x) => model.forward(x as tf.Tensor4D),
          images: data.pixels,
          labels: data.labels,
          side: data.side,
          eps: b.robustEps,
          pgdSteps: b.pgdSteps,
          corruptions: CORRUPTIONS,
          severities: b.severities,
          seed: job.seed,
        });
        return done({
          clean: rep.clean.top1,
          fgsm: rep.fgsm?.top1,
          pgd: rep.pgd?.top1,
          mCE: rep.mCE,
          corruptionErrors: rep.corruptionErrors,
        });
      } finally {
        model.dispose();
      }
    }
  }
}

/** Runs the protocol's unfinished jobs in order; returns every job's result. */
export async function runProtocol(
  name: ProtocolBudgetName,
  seeds: number[],
  out: string,
  log: (m: string) => void,
): Promise<Map<string, ProtocolResult>> {
  const b = protocolBudgets[name];
  await initBackend('tensorflow');
  const results = new Map<string, ProtocolResult>();
  for (const job of planProtocol(b, seeds)) {
    const path = join(out, job.id, 'result.json');
    const prev = await readJson<ProtocolResult>(path);
    if (prev) {
      results.set(job.id, prev);
      continue;
    }
    log(`[${job.id}] start`);
    const r = await runProtocolJob(b, job, out, results, (m) => log(`[${job.id}] ${m}`));
    await writeJson(path, r);
    results.set(job.id, r);
    log(`[${job.id}] done in ${r.seconds.toFixed(1)} s`);
  }
  return results;
}

/** mean ± sample std over seeds of a per-seed number, in percent */
function meanStd(values: number[]): string {
  const n = values.length;
  const m = values.reduce((a, v) => a + v, 0) / n;
  const s = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1)) : 0;
  return `${(100 * m).toFixed(1)} ± ${(100 * s).toFixed(1)}`;
}

/** The protocol's markdown: the table (mean ± std over seeds), the grid chosen, robustness, the pre-training curve. */
export function protocolMarkdown(name: ProtocolBudgetName, seeds: number[], results: Map<string, ProtocolResult>): string {
  const b = protocolBudgets[name];
  const get = (id: string, k: string) => results.get(id)?.[k] as number | undefined;
  const col = (ids: string[], k: string) => {
    const v = ids.map((id) => get(id, k)).filter((x): x is number => typeof x === 'number');
    return v.length ? meanStd(v) : '-';
  };
  const lines = [
    `# Paper protocol (budget \`${name}\`): ${PROTOCOL_MODEL}, Fashion-MNIST, seeds ${seeds.join(', ')}`,
    '',
    `Test top-1 (%) on ${b.testImages ? `the first ${b.testImages} test images` : 'the 10k test split'}, mean ± std over seeds. Fine-tunes use the grid point with the best validation top-1.`,
    '',
    `| arm | ${b.fractions.map((f) => `fine-tune ${pct(f)}%`).join(' | ')} | linear probe | k-NN (k = ${b.knnK}) |`,
    `| --- | ${b.fractions.map(() => '---').join(' | ')} | --- | --- |`,
    ...ARMS.map(
      (arm) =>
        `| ${arm} | ${b.fractions
          .map((f) =>
            col(
              seeds.map((s) => ftId(arm, f, s)),
              'testTop1',
            ),
          )
          .join(' | ')} | ${col(
          seeds.map((s) => `probe-${arm}-s${s}`),
          'testTop1',
        )} | ${col(
          seeds.map((s) => `probe-${arm}-s${s}`),
          'knnTop1',
        )} |`,
    ),
    '',
    '## Robustness of the 10%-label models',
    '',
    '| arm | clean | FGSM | PGD | mCE (unnormalized) |',
    '| --- | --- | --- | --- | --- |',
    ...ARMS.map((arm) => {
      const ids = seeds.map((s) => `robust-${arm}-s${s}`);
      return `| ${arm} | ${col(ids, 'clean')} | ${col(ids, 'fgsm')} | ${col(ids, 'pgd')} | ${col(ids, 'mCE')} |`;
    }),
    '',
    '## Grid (validation top-1 %, seed 0)',
    '',
    '| arm | fraction | base lr | layer decay | validation top-1 |',
    '| --- | --- | --- | --- | --- |',
    ...ARMS.flatMap((arm) =>
      b.fractions.flatMap((f) =>
        b.lrGrid.flatMap((lr) =>
          b.layerDecayGrid.map(
            (ld) => `| ${arm} | ${pct(f)}% | ${lr} | ${ld} | ${(100 * (get(gridId(arm, f, lr, ld), 'valTop1') ?? NaN)).toFixed(2)} |`,
          ),
        ),
      ),
    ),
    '',
    '## Pre-training curve (held-out)',
    '',
    '| step | correlation loss | map IoU % | mismatched-exemplar gap |',
    '| --- | --- | --- | --- |',
    ...((results.get('pt-curve')?.curve as Array<Record<string, number>> | undefined) ?? []).map(
      (p) => `| ${p.step} | ${p.loss.toFixed(4)} | ${(100 * p.meanIoU).toFixed(2)} | ${p.mismatchedGap.toFixed(4)} |`,
    ),
    '',
    `Plateau (the last third of the curve gains < 1 IoU point): ${results.get('pt-curve')?.plateau ?? '-'}`,
    '',
  ];
  return lines.join('\n');
}
