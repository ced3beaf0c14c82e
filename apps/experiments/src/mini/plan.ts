/**
 * The miniature paper table's plan and budgets (issue 7, item 4): the micro ViT pre-trained with CIM
 * on Fashion-MNIST's train images (labels unused), then per seed fine-tuned with 10% and 100% of
 * the labels and probed linearly, from the CIM encoder and from scratch with the same budget.
 */
import type { ModelName } from '@cim-forge/cim';
import type { SourceSpec } from '@cim-forge/data';
import { resolveFinetuneConfig, resolvePretrainConfig, type FinetuneConfig, type PretrainConfig } from '@cim-forge/config';
import { defaultProbeConfig, type ProbeConfig } from '@cim-forge/engine';

export type BudgetName = 'full' | 'quick' | 'tiny';

/** Everything a budget fixes. "100%" of the labels = the first `ftImages` train images (class-balanced). */
export interface Budget {
  description: string;
  /** unlabelled train images pre-trained on, and the pre-training epochs over them (cpu-small: batch 32) */
  ptImages: number;
  ptEpochs: number;
  ptWarmupEpochs: number;
  ftImages: number;
  /** held-out test images scored (first N of the test split) */
  evalImages: number;
  ftBatch: number;
  /** epochs with 100% and with 10% of the labels (10% gets more epochs: fewer steps per epoch) */
  ftEpochs100: number;
  ftEpochs10: number;
  ftWarmupEpochs: number;
  ftBaseLr: number;
  probeEpochs: number;
}

/**
 * Sized from per-step timings measured on the 2-core dev box (wasm backend, one job, the box shared
 * with other work, load ≈ 3.5): pre-training ≈ 1.9 s per step of 32 (cpu-small, micro ViT/4);
 * fine-tuning ≈ 1.6 s per step of 64. `full` then costs about
 *   pre-training  1500 steps × 1.9 s                                  ≈ 48 min (one core)
 *   fine-tuning   6 runs × (375 + 190 steps) × 1.6 s + scoring         ≈ 95 core-min
 *   probes        6 × ~1 min                                          ≈  6 core-min
 * ≈ 150 core-minutes; with --parallel 2 the scratch runs share the pre-training's 48 min, the CIM
 * runs follow on both cores: ≈ 48 + 50 ≈ 100 min wall, under two hours with a margin for load.
 */
export const budgets: Record<BudgetName, Budget> = {
  full: {
    description: 'under two hours on 2 cores with --parallel 2: 1500 pre-training steps on 48k images, 12k labelled images, 3 seeds',
    ptImages: 48000,
    ptEpochs: 1,
    ptWarmupEpochs: 0.05,
    ftImages: 12000,
    evalImages: 5000,
    ftBatch: 64,
    ftEpochs100: 2,
    ftEpochs10: 10,
    ftWarmupEpochs: 0.2,
    ftBaseLr: 4e-3,
    probeEpochs: 30,
  },
  quick: {
    description: 'about 15 minutes on 2 cores with --parallel 2 and --seeds 0: 200 pre-training steps, 3k labelled images',
    ptImages: 6400,
    ptEpochs: 1,
    ptWarmupEpochs: 0.1,
    ftImages: 3000,
    evalImages: 2000,
    ftBatch: 64,
    ftEpochs100: 2,
    ftEpochs10: 10,
    ftWarmupEpochs: 0.2,
    ftBaseLr: 4e-3,
    probeEpochs: 30,
  },
  tiny: {
    description: 'about a minute: a smoke test of the whole pipeline, its numbers mean nothing',
    ptImages: 128,
    ptEpochs: 1,
    ptWarmupEpochs: 0.25,
    ftImages: 320,
    evalImages: 200,
    ftBatch: 16,
    ftEpochs100: 1,
    ftEpochs10: 2,
    ftWarmupEpochs: 0,
    ftBaseLr: 4e-3,
    probeEpochs: 5,
  },
};

export const MODEL: ModelName = 'cimVitMicroPatch4';
/** light augmentation: a few epochs of a 0.2 M-parameter ViT do not need mixup / RandAugment */
const FT_AUG = { dropPath: 0.1, mixup: 0, cutmix: 0, reprob: 0, randAugment: null, labelSmoothing: 0.1 } as const;
export const FT_AUG_FLAGS = '--drop-path 0.1 --mixup 0 --cutmix 0 --reprob 0 --rand-augment off --smoothing 0.1';

export type Init = 'cim' | 'scratch';
export type Task = 'ft10' | 'ft100' | 'probe';
export const TASKS: Task[] = ['ft10', 'ft100', 'probe'];
export const INITS: Init[] = ['cim', 'scratch'];

export interface Job {
  id: string;
  kind: 'pretrain' | Task;
  init?: Init;
  seed: number;
  budget: BudgetName;
  /** absolute run directory of the whole experiment */
  out: string;
}

export interface JobResult {
  id: string;
  kind: Job['kind'];
  init?: Init;
  seed: number;
  /** held-out top-1 in [0, 1] (not for pretrain) */
  top1?: number;
  seconds: number;
  steps?: number;
  /** seconds per optimizer step (pre-training, fine-tuning) */
  secondsPerStep?: number;
  trainImages?: number;
  evalImages?: number;
  startedAt: number;
  finishedAt: number;
  extra?: Record<string, unknown>;
}

const trainSpec = (limit: number): SourceSpec => ({ kind: 'fashion-mnist', split: 'train', limit });
const testSpec = (limit: number): SourceSpec => ({ kind: 'fashion-mnist', split: 'test', limit });

export function pretrainConfig(b: Budget): PretrainConfig {
  return resolvePretrainConfig('cpu-small', {
    dataset: trainSpec(b.ptImages),
    epochs: b.ptEpochs,
    warmupEpochs: b.ptWarmupEpochs,
    seed: 0,
    checkpointEvery: 100,
    evalImages: 0,
  });
}

/** layer-wise lr decay protects pre-trained early layers; a scratch encoder has none to protect (MAE's scratch recipe) */
export const layerDecayOf = (init: Init) => (init === 'cim' ? 0.8 : 1);

export function finetuneConfig(b: Budget, task: 'ft10' | 'ft100', seed: number, initFrom: string | null): FinetuneConfig {
  return resolveFinetuneConfig({
    model: MODEL,
    initFrom,
    encoder: 'online',
    dataset: trainSpec(b.ftImages),
    evalDataset: testSpec(b.evalImages),
    labelsFraction: task === 'ft10' ? 0.1 : 1,
    epochs: task === 'ft10' ? b.ftEpochs10 : b.ftEpochs100,
    warmupEpochs: b.ftWarmupEpochs,
    batchSize: b.ftBatch,
    baseLr: b.ftBaseLr,
    layerDecay: layerDecayOf(initFrom ? 'cim' : 'scratch'),
    ...FT_AUG,
    seed,
    checkpointEvery: 50,
    evalImages: 0,
  });
}

export function probeConfig(b: Budget, seed: number, initFrom: string | null): ProbeConfig {
  return {
    ...defaultProbeConfig,
    model: MODEL,
    initFrom,
    encoder: 'online',
    dataset: trainSpec(b.ftImages),
    evalDataset: testSpec(b.evalImages),
    epochs: b.probeEpochs,
    seed,
  };
}

export function planJobs(budget: BudgetName, seeds: number[], out: string): Job[] {
  const jobs: Job[] = [{ id: 'pretrain', kind: 'pretrain', seed: 0, budget, out }];
  // scratch first: they need no pre-training, so with --parallel they run beside it
  for (const init of ['scratch', 'cim'] as Init[]) {
    for (const seed of seeds) for (const task of TASKS) jobs.push({ id: `${task}-${init}-s${seed}`, kind: task, init, seed, budget, out });
  }
  return jobs;
}
