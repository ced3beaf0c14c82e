/**
 * The protocol's wall-time estimate, job by job, from the throughputs committed in
 * experiments/paper-protocol/throughputs.json (one profile per set of measurements).
 */
import { readFile } from 'node:fs/promises';
import { ARMS, ftEpochsOf, gridFractionsOf, type ProtocolBudget, type ProtocolJob } from './plan.ts';

export interface Throughput {
  /** fine-tuning images per second (one optimizer step's forward and backward, batch ftBatch) */
  finetune: number;
  /** CIM pre-training samples per second */
  pretrain: number;
  /** frozen-feature extraction / eval-mode forward, images per second */
  features: number;
}

export interface ThroughputTable {
  use: string;
  profiles: Record<string, Throughput & { sources?: Record<string, string> }>;
}

export async function readThroughputs(path: string, profile?: string): Promise<{ name: string; tp: Throughput }> {
  const t = JSON.parse(await readFile(path, 'utf8')) as ThroughputTable;
  const name = profile ?? t.use;
  const tp = t.profiles[name];
  if (!tp) throw new Error(`${path} has no throughput profile "${name}" (it has ${Object.keys(t.profiles).join(', ')})`);
  for (const k of ['finetune', 'pretrain', 'features'] as const)
    if (!(tp[k] > 0)) throw new Error(`${path}: profile ${name} needs a positive ${k}, got ${tp[k]}`);
  return { name, tp };
}

const TEST_SPLIT = 10000;
/** corruptions in the robustness columns */
const CORRUPTION_KINDS = 7;

/** Estimated seconds one job takes, alone on the machine. */
export function estimateJobSeconds(b: ProtocolBudget, job: ProtocolJob, tp: Throughput): number {
  const train = b.trainImages * (1 - b.valFraction);
  const val = b.valImages || b.trainImages * b.valFraction;
  const test = b.testImages || TEST_SPLIT;
  const ft = (fraction: number, grid: boolean) => {
    const epochs = ftEpochsOf(b, fraction, grid);
    // training, a validation pass per epoch, the test split once for a final fine-tune
    return (train * fraction * epochs) / tp.finetune + (Math.ceil(epochs) * val + (grid ? 0 : test)) / tp.features;
  };
  switch (job.kind) {
    case 'pretrain':
      return (b.trainImages * b.ptEpochs) / tp.pretrain;
    case 'pt-curve': {
      const checkpoints = Math.ceil((b.trainImages * b.ptEpochs) / b.ptBatch / b.ptCheckpointEvery);
      // each held-out sample is a context and its exemplars (about 7 images), scored twice (matched, mismatched)
      // and a k-NN of the encoder at each checkpoint (features of its bank and of the held-out images)
      return (checkpoints * (b.ptCurveImages * 7 * 2 + b.ptKnnImages + b.ptCurveImages)) / tp.features;
    }
    case 'grid':
      return ft(job.fraction, true);
    case 'ft':
      return ft(job.fraction, false);
    case 'probe':
      // features of train and test, then a linear head and k-NN on them (cheap)
      return (b.trainImages + test) / tp.features;
    case 'robust': {
      // forward passes: clean, the corruptions × severities; gradient passes (at about a training step's speed): FGSM and the PGD steps
      const forwards = 1 + CORRUPTION_KINDS * b.severities.length + 2;
      const gradients = 1 + b.pgdSteps;
      return b.robustImages * (forwards / tp.features + gradients / tp.finetune);
    }
  }
}

export interface Estimate {
  /** seconds per job kind, for seed 0 (and the jobs without a seed) and for the other seeds */
  seed0: Record<string, number>;
  otherSeeds: Record<string, number>;
  seed0Total: number;
  otherSeedsTotal: number;
}

export function estimateProtocol(b: ProtocolBudget, jobs: ProtocolJob[], tp: Throughput): Estimate {
  const e: Estimate = { seed0: {}, otherSeeds: {}, seed0Total: 0, otherSeedsTotal: 0 };
  for (const j of jobs) {
    const s = estimateJobSeconds(b, j, tp);
    const part = 'seed' in j && j.seed !== 0 ? 'otherSeeds' : 'seed0';
    e[part][j.kind] = (e[part][j.kind] ?? 0) + s;
    if (part === 'seed0') e.seed0Total += s;
    else e.otherSeedsTotal += s;
  }
  return e;
}

/** How many grid points the budget runs: arms × gridded fractions × lr × layer decay. */
export const gridPointsOf = (b: ProtocolBudget) => ARMS.length * gridFractionsOf(b).length * b.lrGrid.length * b.layerDecayGrid.length;
