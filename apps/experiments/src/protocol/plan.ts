/**
 * Issue 15/26's protocol on the micro ResNet: the budgets and the plan.
 *
 *   1. pre-train CIM (cimResnetMicro) on all 60k Fashion-MNIST train images, labels unused, keeping
 *      a checkpoint every `ptCheckpointEvery` steps; then the curve: held-out correlation loss, map
 *      IoU (beside the exemplar-blind centre prior's) and the mismatched-exemplar gap per checkpoint;
 *   2. per arm (scratch, CIM online encoder, CIM target encoder), a base lr × layer decay grid on the
 *      label fractions in `gridFractions` (the pilot), at `gridEpochScale` × the epochs, scored on a
 *      validation split carved from train (10%, stratified, split seed 0), never on test; the other
 *      fractions reuse the nearest gridded fraction's choice;
 *   3. the chosen point per (arm, fraction) fine-tuned with every seed, scored once on the test split;
 *   4. linear probe and k-NN (k = 20, cosine) on frozen features per arm and seed;
 *   5. robustness of the 10%-label models: clean, FGSM and PGD top-1, mCE over seven corruptions.
 */
import type { SourceSpec } from '@cim-forge/data';
import { resolveFinetuneConfig, resolvePretrainConfig, type FinetuneConfig, type PretrainConfig } from '@cim-forge/config';
import { defaultProbeConfig, type ProbeConfig } from '@cim-forge/engine';
import { protocolBudgets, type ProtocolBudget, type ProtocolBudgetName } from './budgets.ts';

export { protocolBudgets, type ProtocolBudget, type ProtocolBudgetName };
export const PROTOCOL_MODEL = 'cimResnetMicro' as const;
export type Arm = 'scratch' | 'cim-online' | 'cim-target';
export const ARMS: Arm[] = ['scratch', 'cim-online', 'cim-target'];

export type ProtocolJob =
  | { id: string; kind: 'pretrain' }
  | { id: string; kind: 'pt-curve' }
  | { id: string; kind: 'grid'; arm: Arm; fraction: number; baseLr: number; layerDecay: number }
  | { id: string; kind: 'ft'; arm: Arm; fraction: number; seed: number }
  | { id: string; kind: 'probe'; arm: Arm; seed: number }
  | { id: string; kind: 'robust'; arm: Arm; seed: number };

export const pct = (f: number) => `${+(100 * f).toFixed(2)}`;
export const gridId = (arm: Arm, fraction: number, lr: number, ld: number) => `grid-${arm}-f${pct(fraction)}-lr${lr}-ld${ld}`;
export const ftId = (arm: Arm, fraction: number, seed: number) => `ft-${arm}-f${pct(fraction)}-s${seed}`;
export const probeId = (arm: Arm, seed: number) => `probe-${arm}-s${seed}`;
export const robustId = (arm: Arm, seed: number) => `robust-${arm}-s${seed}`;
export const seedOf = (job: ProtocolJob): number | undefined => ('seed' in job ? job.seed : undefined);

/** The fractions that get their own grid (the pilot); all fractions when the budget names none. */
export const gridFractionsOf = (b: ProtocolBudget) => b.gridFractions ?? b.fractions;

/** The gridded fraction whose choice a fraction reuses: itself, else the nearest on a log scale. */
export function gridFractionFor(b: ProtocolBudget, fraction: number): number {
  const g = gridFractionsOf(b);
  if (g.includes(fraction)) return fraction;
  return g.reduce((best, f) => (Math.abs(Math.log(f / fraction)) < Math.abs(Math.log(best / fraction)) ? f : best));
}

/** Every job in an order that respects the dependencies (pre-training → grid → fine-tunes → robustness). */
export function planProtocol(b: ProtocolBudget, seeds: number[]): ProtocolJob[] {
  const jobs: ProtocolJob[] = [
    { id: 'pretrain', kind: 'pretrain' },
    { id: 'pt-curve', kind: 'pt-curve' },
  ];
  for (const arm of ARMS)
    for (const fraction of gridFractionsOf(b))
      for (const baseLr of b.lrGrid)
        for (const layerDecay of b.layerDecayGrid)
          jobs.push({ id: gridId(arm, fraction, baseLr, layerDecay), kind: 'grid', arm, fraction, baseLr, layerDecay });
  for (const seed of seeds) {
    for (const arm of ARMS)
      for (const fraction of b.fractions) jobs.push({ id: ftId(arm, fraction, seed), kind: 'ft', arm, fraction, seed });
    for (const arm of ARMS) jobs.push({ id: probeId(arm, seed), kind: 'probe', arm, seed });
    if (b.fractions.includes(0.1)) for (const arm of ARMS) jobs.push({ id: robustId(arm, seed), kind: 'robust', arm, seed });
  }
  return jobs;
}

export const trainSpec = (b: ProtocolBudget): SourceSpec => ({
  kind: 'fashion-mnist',
  split: 'train',
  ...(b.trainImages < 60000 ? { limit: b.trainImages } : {}),
});
export const testSpec = (limit?: number): SourceSpec => ({ kind: 'fashion-mnist', split: 'test', ...(limit ? { limit } : {}) });

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

/** Fine-tuning epochs of a job: the fraction's epochs, scaled for a grid point. */
export function ftEpochsOf(b: ProtocolBudget, fraction: number, grid = false): number {
  const epochs = b.ftEpochs[String(fraction)] * (grid ? b.gridEpochScale : 1);
  if (!epochs) throw new Error(`budget has no fine-tuning epochs for fraction ${fraction}`);
  return epochs;
}

/**
 * One fine-tune: the same recipe for every arm (light augmentation: 32-px grey images, a 0.3 M
 * network), only the encoder it starts from differs. Scored every epoch on (the first `valImages`
 * of) the validation split; the test split once at the end (FinetuneConfig.valFraction).
 */
export function protocolFinetuneConfig(
  b: ProtocolBudget,
  o: { arm: Arm; fraction: number; seed: number; baseLr: number; layerDecay: number; initFrom: string | null; grid?: boolean },
): FinetuneConfig {
  return resolveFinetuneConfig({
    model: PROTOCOL_MODEL,
    initFrom: o.arm === 'scratch' ? null : o.initFrom,
    encoder: o.arm === 'cim-target' ? 'target' : 'online',
    dataset: trainSpec(b),
    evalDataset: testSpec(b.testImages),
    valFraction: b.valFraction,
    labelsFraction: o.fraction,
    epochs: ftEpochsOf(b, o.fraction, o.grid),
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
    evalImages: b.valImages,
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

export interface GridChoice {
  baseLr: number;
  layerDecay: number;
  valTop1: number;
  /** the gridded fraction the choice was made on */
  fraction: number;
}

/** The best grid point (validation top-1; ties: the earlier point) for an arm and fraction, from the grid's figures. */
export function bestGridPoint(b: ProtocolBudget, arm: Arm, fraction: number, figures: Map<string, Record<string, unknown>>): GridChoice {
  const g = gridFractionFor(b, fraction);
  let best: GridChoice | undefined;
  for (const baseLr of b.lrGrid) {
    for (const layerDecay of b.layerDecayGrid) {
      const r = figures.get(gridId(arm, g, baseLr, layerDecay));
      if (!r) throw new Error(`grid point ${gridId(arm, g, baseLr, layerDecay)} has no result`);
      const valTop1 = r.valTop1 as number;
      if (!best || valTop1 > best.valTop1) best = { baseLr, layerDecay, valTop1, fraction: g };
    }
  }
  return best!;
}
