/**
 * The miniature paper table (issue 7, item 4): pre-train CIM on Fashion-MNIST's train images
 * (labels unused), then for each seed fine-tune with 10% and 100% of the labels and probe
 * linearly — from the CIM encoder and from scratch (same architecture, same budget) — and write
 * docs/results.md with mean ± std over seeds, the machine, wall times and the commands.
 *
 * Every job (the pre-training, each fine-tune, each probe) writes OUT/<job>/result.json when it
 * finishes; a later invocation skips those, so an interrupted experiment resumes (fine-tunes and
 * the pre-training also resume mid-run from their checkpoints). `--parallel 2` runs two jobs at
 * once as child processes (one core each); the scratch jobs need no pre-training, so they run
 * beside it.
 *
 *   npm run experiment:paper-mini -- --budget full|quick|tiny [--seeds 0,1,2] [--parallel 2]
 *                                    [--out runs/paper-mini] [--results docs/results.md]
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, platform, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type ModelName } from '@cim-forge/cim';
import type { SourceSpec } from '@cim-forge/data';
import {
  finetune,
  JsonlMetricsSink,
  linearProbe,
  LocalCheckpointStore,
  pretrain,
  defaultProbeConfig,
  type ProbeConfig,
} from '@cim-forge/engine';
import { resolveFinetuneConfig, resolvePretrainConfig, type FinetuneConfig, type PretrainConfig } from '@cim-forge/config';
import { UsageError } from '../args.ts';
import { resolveFrom } from '../labelled-data.ts';
import {
  estimateProtocolSeconds,
  FT_IMAGES_PER_SEC,
  planProtocol,
  PT_IMAGES_PER_SEC,
  protocolBudgets,
  protocolMarkdown,
  runProtocol,
  type ProtocolBudgetName,
} from './paper-protocol.ts';
import { childProcessEnv } from '@cim-forge/settings';

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

const MODEL: ModelName = 'cimVitMicroPatch4';
/** light augmentation: a few epochs of a 0.2 M-parameter ViT do not need mixup / RandAugment */
const FT_AUG = { dropPath: 0.1, mixup: 0, cutmix: 0, reprob: 0, randAugment: null, labelSmoothing: 0.1 } as const;
const FT_AUG_FLAGS = '--drop-path 0.1 --mixup 0 --cutmix 0 --reprob 0 --rand-augment off --smoothing 0.1';

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

const resultPath = (job: Job) => join(job.out, job.id, 'result.json');
const pretrainDir = (out: string) => join(out, 'pretrain');

async function readResult(job: Job): Promise<JobResult | undefined> {
  const p = resultPath(job);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(await readFile(p, 'utf8')) as JobResult;
  } catch {
    return undefined;
  }
}

async function writeJson(p: string, v: unknown): Promise<void> {
  await mkdir(dirname(p), { recursive: true });
  await writeFile(`${p}.tmp`, JSON.stringify(v, null, 2));
  await rename(`${p}.tmp`, p);
}

/** Runs one job in this process; writes its result.json last (its existence = done). */
export async function runJob(job: Job, log: (m: string) => void): Promise<JobResult> {
  const b = budgets[job.budget];
  const dir = join(job.out, job.id);
  await mkdir(dir, { recursive: true });
  await initBackend('wasm');
  const startedAt = Date.now();
  let r: Omit<JobResult, 'startedAt' | 'finishedAt' | 'id' | 'kind' | 'init' | 'seed'>;
  if (job.kind === 'pretrain') {
    const config = pretrainConfig(b);
    await writeJson(join(dir, 'config.json'), config);
    let last = 0;
    const res = await pretrain({
      config,
      store: new LocalCheckpointStore(join(dir, 'checkpoints')),
      metrics: new JsonlMetricsSink(join(dir, 'metrics.jsonl')),
      resume: true,
      hooks: {
        log,
        onPlan: ({ plan, startStep }) =>
          log(`pretrain: ${plan.totalSteps} steps of ${config.batchSize}${startStep ? `, resuming at ${startStep}` : ''}`),
        onStep: (s) => {
          if (s.step === 1 || s.step === s.totalSteps || Date.now() - last > 30_000) {
            last = Date.now();
            log(`pretrain: step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(3)} ${s.imagesPerSec.toFixed(1)} img/s`);
          }
        },
      },
    });
    if (res.stopped) throw new Error('pre-training stopped early');
    r = {
      seconds: res.seconds,
      steps: res.steps,
      secondsPerStep: res.steps ? res.seconds / res.steps : undefined,
      extra: { earlyLoss: res.earlyLoss, lateLoss: res.lateLoss },
    };
  } else {
    const initFrom = job.init === 'cim' ? await resolveFrom(pretrainDir(job.out)) : null;
    if (job.kind === 'probe') {
      const res = await linearProbe({ config: probeConfig(b, job.seed, initFrom), log });
      r = {
        top1: res.top1,
        seconds: res.seconds,
        trainImages: res.trainImages,
        evalImages: res.evalImages,
        extra: { trainTop1: res.trainTop1, featureSeconds: res.featureSeconds },
      };
    } else {
      const config = finetuneConfig(b, job.kind, job.seed, initFrom);
      await writeJson(join(dir, 'config.json'), config);
      let last = 0;
      const res = await finetune({
        config,
        store: new LocalCheckpointStore(join(dir, 'checkpoints')),
        metrics: new JsonlMetricsSink(join(dir, 'metrics.jsonl')),
        resume: true,
        hooks: {
          log,
          onStep: (s) => {
            if (s.step === 1 || Date.now() - last > 30_000) {
              last = Date.now();
              log(`step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(3)} ${s.imagesPerSec.toFixed(1)} img/s`);
            }
          },
          onEval: (e) => log(`epoch ${e.epoch.toFixed(1)} top-1 ${(100 * e.top1).toFixed(1)}%`),
        },
      });
      if (res.finalStep < res.totalSteps) throw new Error(`fine-tuning stopped at ${res.finalStep}/${res.totalSteps}`);
      r = {
        top1: res.top1,
        seconds: res.seconds,
        steps: res.steps,
        secondsPerStep: res.steps ? res.seconds / res.steps : undefined,
        trainImages: res.trainImages,
        evalImages: res.evalImages,
        extra: { evals: res.evals, lateLoss: res.lateLoss },
      };
    }
  }
  const result: JobResult = { id: job.id, kind: job.kind, init: job.init, seed: job.seed, ...r, startedAt, finishedAt: Date.now() };
  await writeJson(resultPath(job), result);
  return result;
}

/** One job in a child process (`--job FILE`), its stderr lines prefixed with the job id. */
function runChild(job: Job, log: (m: string) => void): Promise<void> {
  const jobFile = join(job.out, job.id, 'job.json');
  return writeJson(jobFile, job).then(
    () =>
      new Promise<void>((ok, fail) => {
        const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--job', jobFile], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: childProcessEnv({ CIM_BACKEND: 'wasm' }),
        });
        let buf = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (d: string) => {
          buf += d;
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) if (l.trim()) log(l);
        });
        child.on('error', fail);
        child.on('close', (code) => (code === 0 ? ok() : fail(new Error(`job ${job.id} exited with ${code}`))));
      }),
  );
}

/** Runs the jobs not yet done, `parallel` at a time; CIM jobs wait for the pre-training. */
export async function runAll(
  jobs: Job[],
  parallel: number,
  log: (m: string) => void,
): Promise<{ results: Map<string, JobResult>; reused: string[] }> {
  const results = new Map<string, JobResult>();
  const reused: string[] = [];
  for (const j of jobs) {
    const r = await readResult(j);
    if (r) {
      results.set(j.id, r);
      reused.push(j.id);
    }
  }
  if (reused.length) log(`reusing ${reused.length} finished job(s): ${reused.join(', ')}`);
  const todo = jobs.filter((j) => !results.has(j.id));
  const running = new Set<string>();
  let failure: Error | undefined;
  await new Promise<void>((done) => {
    const pump = () => {
      if (failure && running.size === 0) return done();
      if (!failure && todo.length === 0 && running.size === 0) return done();
      while (!failure && running.size < parallel) {
        const i = todo.findIndex((j) => j.init !== 'cim' || results.has('pretrain'));
        if (i < 0) break;
        const job = todo.splice(i, 1)[0];
        running.add(job.id);
        const jlog = (m: string) => log(`[${job.id}] ${m}`);
        jlog('start');
        const p = parallel > 1 ? runChild(job, jlog).then(() => readResult(job)) : runJob(job, jlog);
        p.then((r) => {
          if (!r) throw new Error(`job ${job.id} wrote no result`);
          results.set(job.id, r);
          jlog(`done in ${r.seconds.toFixed(1)} s${r.top1 !== undefined ? `: top-1 ${(100 * r.top1).toFixed(2)}%` : ''}`);
        })
          .catch((e: Error) => {
            failure ??= e;
          })
          .finally(() => {
            running.delete(job.id);
            pump();
          });
      }
      if (running.size === 0 && !failure && todo.length > 0) {
        failure = new Error(`jobs cannot start: ${todo.map((j) => j.id).join(', ')}`);
        done();
      }
    };
    pump();
  });
  if (failure) throw failure;
  return { results, reused };
}

// ---- the table --------------------------------------------------------------------------------

export interface Cell {
  mean: number;
  std: number;
  n: number;
  values: number[];
}

/** mean and sample standard deviation (n − 1; 0 for one value), in percent */
export function cell(values: number[]): Cell {
  const n = values.length;
  const mean = values.reduce((a, v) => a + v, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n, values };
}

export type Table = Record<Init, Record<Task, Cell>>;

export function tableOf(results: Map<string, JobResult>, seeds: number[]): Table {
  const t = {} as Table;
  for (const init of INITS) {
    t[init] = {} as Record<Task, Cell>;
    for (const task of TASKS) t[init][task] = cell(seeds.map((s) => 100 * results.get(`${task}-${init}-s${s}`)!.top1!));
  }
  return t;
}

const fmtCell = (c: Cell) => `${c.mean.toFixed(1)} ± ${c.std.toFixed(1)}`;

/** Is a − b a clear margin: at least 1 point and twice its standard error (when there are seeds to tell)? */
export function verdict(a: Cell, b: Cell): { diff: number; se: number; clear: boolean; better: boolean } {
  const diff = a.mean - b.mean;
  const se = Math.sqrt(a.std ** 2 / a.n + b.std ** 2 / b.n);
  return { diff, se, better: diff > 0, clear: diff >= 1 && (a.n < 2 || diff > 2 * se) };
}

export function whatThisShows(t: Table, pretrainSteps: number): string {
  const parts: string[] = [];
  const n = t.cim.ft10.n;
  const say = (what: string, v: ReturnType<typeof verdict>) => {
    const d = `${v.diff >= 0 ? '+' : ''}${v.diff.toFixed(1)} points${n > 1 ? ` (standard error ${v.se.toFixed(1)})` : ''}`;
    if (v.clear) return `${what}, CIM beats scratch by a clear margin: ${d}.`;
    if (v.better)
      return `${what}, CIM is ahead of scratch by ${d}, which is not a clear margin (we ask for at least 1 point and twice the standard error).`;
    return `${what}, CIM does **not** beat scratch: ${d}.`;
  };
  const v10 = verdict(t.cim.ft10, t.scratch.ft10);
  const v100 = verdict(t.cim.ft100, t.scratch.ft100);
  const vp = verdict(t.cim.probe, t.scratch.probe);
  parts.push(say('Fine-tuned with 10% of the labels', v10));
  parts.push(say('With 100% of the labels', v100));
  parts.push(say('On the linear probe (frozen encoder; scratch = a random encoder)', vp));
  const claim = v10.clear && vp.clear;
  parts.push(
    claim
      ? "The paper's claim holds in miniature: pre-training helps most where labels are scarce, and the frozen features are better than random ones."
      : `The paper's claim (a clear gain with 10% of the labels and on the probe) is ${v10.clear || vp.clear ? 'only partly' : 'not'} reproduced at this scale. ` +
          `Plausible reasons: the pre-training here is ${pretrainSteps} CPU steps of batch 32 for a 0.2 M-parameter ViT on 32-px images, orders of magnitude below the paper's 300 ImageNet epochs of ViT-B; ` +
          'Fashion-MNIST is easy enough that a small model from scratch learns most of it from a few thousand labels; and a random encoder is a strong linear-probe baseline on such simple images. ' +
          (n < 3 ? `With ${n} seed(s) the spread is not measured well either.` : ''),
  );
  if (v100.diff < v10.diff && v10.diff > 0) parts.push('As in the paper, the gap shrinks when all the labels are used.');
  return parts.join(' ');
}

function cliCommands(b: Budget, budget: BudgetName, seeds: number[], out: string, results: string, parallel: number): string[] {
  const o = out;
  const pt = pretrainConfig(b);
  const s = seeds[0];
  const ft = (task: 'ft10' | 'ft100', init: Init) => {
    const c = finetuneConfig(b, task, s, null);
    return (
      `npm run cim -- finetune --from ${init === 'cim' ? `${o}/pretrain` : `scratch --model ${MODEL}`} --dataset fashion-mnist --limit ${b.ftImages} ` +
      `--eval-images ${b.evalImages} --labels-fraction ${c.labelsFraction} --epochs ${c.epochs} --warmup-epochs ${c.warmupEpochs} ` +
      `--batch-size ${c.batchSize} --base-lr ${c.baseLr} --layer-decay ${layerDecayOf(init)} ${FT_AUG_FLAGS} --checkpoint-every ${c.checkpointEvery} --seed ${s} --backend wasm --out ${o}/${task}-${init}-s${s}`
    );
  };
  const probe = (init: Init) =>
    `npm run cim -- probe --from ${init === 'cim' ? `${o}/pretrain` : `scratch --model ${MODEL}`} --dataset fashion-mnist --limit ${b.ftImages} ` +
    `--eval-images ${b.evalImages} --epochs ${b.probeEpochs} --seed ${s} --backend wasm`;
  return [
    `# the whole experiment (resumable: rerun the same command to continue)`,
    `npm run experiment:paper-mini -- --budget ${budget} --seeds ${seeds.join(',')} --parallel ${parallel} --out ${o} --results ${results}`,
    ``,
    `# the same jobs one by one (seed ${s} shown; the other seeds change --seed and --out)`,
    `npm run cim -- pretrain --preset cpu-small --dataset fashion-mnist --limit ${b.ptImages} --epochs ${pt.epochs} --warmup-epochs ${pt.warmupEpochs} ` +
      `--seed 0 --checkpoint-every ${pt.checkpointEvery} --eval-images 0 --backend wasm --out ${o}/pretrain`,
    ...INITS.flatMap((init) => [ft('ft10', init), ft('ft100', init), probe(init)]),
  ];
}

export interface Report {
  budget: BudgetName;
  parallel: number;
  seeds: number[];
  table: Table;
  phases: Record<'pretrain' | 'finetune' | 'probe', { wallSeconds: number; jobSeconds: number; secondsPerStep?: number }>;
  totalSeconds: number;
  reused: string[];
  machine: { cpu: string; cores: number; os: string; node: string };
  date: string;
}

function phaseStats(results: JobResult[]): { wallSeconds: number; jobSeconds: number; secondsPerStep?: number } {
  if (!results.length) return { wallSeconds: 0, jobSeconds: 0 };
  // the union of the jobs' intervals: the time at least one of them was running
  const iv = results.map((r) => [r.startedAt, r.finishedAt]).sort((a, z) => a[0] - z[0]);
  let wall = 0;
  let [from, to] = iv[0];
  for (const [a, z] of iv.slice(1)) {
    if (a > to) {
      wall += to - from;
      [from, to] = [a, z];
    } else to = Math.max(to, z);
  }
  wall = (wall + to - from) / 1000;
  const jobSeconds = results.reduce((a, r) => a + r.seconds, 0);
  const steps = results.reduce((a, r) => a + (r.steps ?? 0), 0);
  return { wallSeconds: wall, jobSeconds, ...(steps ? { secondsPerStep: jobSeconds / steps } : {}) };
}

export function buildReport(
  budget: BudgetName,
  parallel: number,
  seeds: number[],
  results: Map<string, JobResult>,
  totalSeconds: number,
  reused: string[],
): Report {
  const all = [...results.values()];
  return {
    budget,
    parallel,
    seeds,
    table: tableOf(results, seeds),
    phases: {
      pretrain: phaseStats(all.filter((r) => r.kind === 'pretrain')),
      finetune: phaseStats(all.filter((r) => r.kind === 'ft10' || r.kind === 'ft100')),
      probe: phaseStats(all.filter((r) => r.kind === 'probe')),
    },
    totalSeconds,
    reused,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, os: `${platform()} ${release()}`, node: process.version },
    date: new Date().toISOString(),
  };
}

export function markdown(rep: Report, results: Map<string, JobResult>, commands: string[]): string {
  const b = budgets[rep.budget];
  const t = rep.table;
  const name = { cim: 'CIM pre-trained', scratch: 'scratch' } as const;
  const min = (s: number) => (s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);
  const ph = rep.phases;
  const lines = [
    '# Results: the miniature paper table',
    '',
    `Held-out top-1 (%) on the first ${b.evalImages} Fashion-MNIST test images, mean ± std over ${rep.seeds.length} seed(s) (${rep.seeds.join(', ')}).`,
    `Encoder: ${MODEL} (ViT, 64-d, depth 4, patch 4, 32 px), pre-trained with CIM on ${b.ptImages} unlabelled train images, or randomly initialised (scratch).`,
    '',
    '| init | fine-tune 10% | fine-tune 100% | linear probe |',
    '| --- | --- | --- | --- |',
    ...INITS.map((i) => `| ${name[i]} | ${fmtCell(t[i].ft10)} | ${fmtCell(t[i].ft100)} | ${fmtCell(t[i].probe)} |`),
    '',
    '## What this shows',
    '',
    whatThisShows(t, Math.round((b.ptImages * b.ptEpochs) / 32)),
    '',
    // written by hand, kept across reruns: what we learned chasing the gap
    'Diagnostics of the gap (one factor at a time): [diagnostics-paper-mini.md](diagnostics-paper-mini.md).',
    '',
    '## Setup',
    '',
    `- Date: ${rep.date}`,
    `- Machine: ${rep.machine.cpu}, ${rep.machine.cores} cores, ${rep.machine.os}, Node ${rep.machine.node}, tfjs wasm backend`,
    `- Budget \`${rep.budget}\`: ${b.description}`,
    `- Pre-training: preset cpu-small (batch 32, base lr 0.02), ${b.ptEpochs} epoch(s) over ${b.ptImages} train images, labels unused`,
    `- "100%" = the first ${b.ftImages} train images (class-balanced); "10%" a stratified tenth of them chosen by the seed`,
    `- Fine-tuning: batch ${b.ftBatch}, base lr ${b.ftBaseLr} (× batch/256), warmup ${b.ftWarmupEpochs} epoch(s) then cosine, ` +
      `${b.ftEpochs100} epochs with 100%, ${b.ftEpochs10} with 10% (half the steps); drop path 0.1, smoothing 0.1, no mixup/cutmix/erasing/RandAugment; ` +
      'the same for CIM and scratch except layer-wise lr decay (0.8 for CIM, none for scratch, whose early layers have nothing to preserve)',
    `- Linear probe: frozen encoder, mean-pooled standardized features, ${b.probeEpochs} epochs of AdamW, all ${b.ftImages} labels`,
    '',
    '## Wall time',
    '',
    '| phase | wall | job-seconds (sum) | per step |',
    '| --- | --- | --- | --- |',
    `| pre-training | ${min(ph.pretrain.wallSeconds)} | ${min(ph.pretrain.jobSeconds)} | ${ph.pretrain.secondsPerStep ? `${ph.pretrain.secondsPerStep.toFixed(3)} s (batch 32)` : '-'} |`,
    `| fine-tuning | ${min(ph.finetune.wallSeconds)} | ${min(ph.finetune.jobSeconds)} | ${ph.finetune.secondsPerStep ? `${ph.finetune.secondsPerStep.toFixed(3)} s (batch ${b.ftBatch}, with per-epoch scoring)` : '-'} |`,
    `| linear probe | ${min(ph.probe.wallSeconds)} | ${min(ph.probe.jobSeconds)} | - |`,
    `| this invocation | ${min(rep.totalSeconds)} | | |`,
    '',
    `Wall = the time at least one job of the phase was running; job-seconds = the sum over its jobs. Run with --parallel ${rep.parallel}` +
      (rep.parallel > 1
        ? ' (jobs as child processes, one core each; the scratch jobs run beside the pre-training, so phases overlap).'
        : ' (one job at a time).') +
      (rep.reused.length ? ` ${rep.reused.length} job(s) were reused from an earlier invocation; their times are the original ones.` : ''),
    '',
    '## Per seed',
    '',
    '| job | top-1 % | seconds |',
    '| --- | --- | --- |',
    ...[...results.values()]
      .filter((r) => r.top1 !== undefined)
      .sort((a, z) => a.id.localeCompare(z.id))
      .map((r) => `| ${r.id} | ${(100 * r.top1!).toFixed(2)} | ${r.seconds.toFixed(1)} |`),
    '',
    '## Commands to reproduce',
    '',
    '```sh',
    ...commands,
    '```',
    '',
  ];
  return lines.join('\n');
}

// ---- main -------------------------------------------------------------------------------------

const fmtHours = (sec: number) => (sec >= 3600 ? `${(sec / 3600).toFixed(1)} h` : `${(sec / 60).toFixed(0)} min`);
function estimateLines(name: ProtocolBudgetName, seeds: number): string {
  const e = estimateProtocolSeconds(protocolBudgets[name], seeds);
  const total = Object.values(e).reduce((a, v) => a + v, 0);
  return [...Object.entries(e).map(([k, v]) => `    ${k.padEnd(10)} ${fmtHours(v)}`), `    ${'total'.padEnd(10)} ${fmtHours(total)}`].join(
    '\n',
  );
}
const ESTIMATE = estimateLines('protocol', 3);

const help = `Usage: npm run experiment:paper-mini -- [options]

Pre-trains CIM on Fashion-MNIST (labels unused), then per seed fine-tunes with 10% and 100% of the
labels and probes linearly, from the CIM encoder and from scratch; writes a mean ± std table.

  --budget B      full (under 2 h on 2 cores) | quick (~15 min) | tiny (~1 min, a smoke test) (default full)
                  — the ViT table above; or issue 15's protocol on the micro ResNet:
                  protocol | protocol-tiny (a few minutes, a smoke test), see below
  --seeds LIST    comma-separated fine-tuning seeds (default 0,1,2)
  --parallel N    jobs at once, as child processes (default 1 = in this process; protocol: always 1)
  --out DIR       run directories; finished jobs there are reused (default runs/paper-mini, protocol: runs/paper-protocol)
  --results FILE  the markdown written (default docs/results.md, protocol: docs/paper-protocol-results.md)
  --dry-run       protocol: print the jobs and the estimated wall time, run nothing

--budget protocol (cimResnetMicro, native tensorflow backend, one job at a time, resumable):
  pre-training on all 60k train images (10 epochs, batch 64) with a held-out loss / IoU /
  mismatched-exemplar curve over its checkpoints; per arm (scratch, CIM online, CIM target) and label
  fraction (1%, 10%, 100%; 60, 20, 5 epochs of batch 128) a base lr {2e-3, 8e-3} × layer decay {1, 0.75}
  grid at half those epochs, scored on a validation split (10% of train, stratified, split seed 0),
  never on test; the best point fine-tuned per seed and scored once on the 10k test split; linear probe and k-NN (k = 20, cosine)
  with feature statistics; FGSM / PGD / mCE for the 10%-label models.
  Estimated wall time with 3 seeds on the 2-core box (fine-tuning measured at ${FT_IMAGES_PER_SEC} img/s,
  pre-training estimated at ${PT_IMAGES_PER_SEC} img/s; docs/paper-protocol.md):
${ESTIMATE}`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      budget: { type: 'string' },
      seeds: { type: 'string' },
      parallel: { type: 'string' },
      out: { type: 'string' },
      results: { type: 'string' },
      job: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if (values.job) {
    const job = JSON.parse(await readFile(values.job, 'utf8')) as Job;
    await runJob(job, log);
    return 0;
  }
  const budget = (values.budget ?? 'full') as BudgetName;
  const protocol = Object.hasOwn(protocolBudgets, budget) ? (budget as unknown as ProtocolBudgetName) : undefined;
  if (!(budget in budgets) && !protocol)
    throw new UsageError(
      `--budget must be full, quick or tiny (the ViT table), or protocol / protocol-tiny (issue 15, ResNet), got "${values.budget}"`,
    );
  const seeds = (values.seeds ?? '0,1,2').split(',').map((s) => Number(s.trim()));
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0) || new Set(seeds).size !== seeds.length)
    throw new UsageError(`--seeds must be distinct non-negative integers, got "${values.seeds}"`);
  if (protocol)
    return mainProtocol(
      protocol,
      seeds,
      values.out ?? 'runs/paper-protocol',
      values.results ?? 'docs/paper-protocol-results.md',
      values['dry-run'] ?? false,
      log,
    );
  const parallel = Number(values.parallel ?? 1);
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel must be a positive integer, got "${values.parallel}"`);
  const outArg = values.out ?? 'runs/paper-mini';
  const resultsArg = values.results ?? 'docs/results.md';
  const out = resolve(outArg);
  await mkdir(out, { recursive: true });
  // a run directory belongs to one budget: mixing would average different experiments
  const stamp = join(out, 'experiment.json');
  if (existsSync(stamp)) {
    const prev = JSON.parse(await readFile(stamp, 'utf8')) as { budget: BudgetName };
    if (prev.budget !== budget)
      throw new UsageError(`${out} holds a --budget ${prev.budget} experiment; choose another --out for --budget ${budget}`);
  } else await writeJson(stamp, { budget, budgetConfig: budgets[budget] });

  const t0 = performance.now();
  log(`paper-mini: budget ${budget}, seeds ${seeds.join(',')}, parallel ${parallel}, out ${out}`);
  const jobs = planJobs(budget, seeds, out);
  const { results, reused } = await runAll(jobs, parallel, log);
  const totalSeconds = (performance.now() - t0) / 1000;
  const rep = buildReport(budget, parallel, seeds, results, totalSeconds, reused);
  const md = markdown(rep, results, cliCommands(budgets[budget], budget, seeds, outArg, resultsArg, parallel));
  await mkdir(dirname(resolve(resultsArg)), { recursive: true });
  await writeFile(resolve(resultsArg), md);
  log(`wrote ${resolve(resultsArg)} in ${totalSeconds.toFixed(1)} s`);
  const perSeed = Object.fromEntries([...results.values()].filter((r) => r.top1 !== undefined).map((r) => [r.id, 100 * r.top1!]));
  console.log(JSON.stringify({ ...rep, perSeed, results: resolve(resultsArg), out }));
  return 0;
}

/** --budget protocol | protocol-tiny: issue 15's ResNet protocol (paper-protocol.ts). */
async function mainProtocol(
  name: ProtocolBudgetName,
  seeds: number[],
  outArg: string,
  resultsArg: string,
  dryRun: boolean,
  log: (m: string) => void,
): Promise<number> {
  const jobs = planProtocol(protocolBudgets[name], seeds);
  if (dryRun) {
    const counts: Record<string, number> = {};
    for (const j of jobs) counts[j.kind] = (counts[j.kind] ?? 0) + 1;
    log(
      `protocol ${name}: ${jobs.length} jobs (${Object.entries(counts)
        .map(([k, n]) => `${n} ${k}`)
        .join(', ')}); estimated wall time:\n${estimateLines(name, seeds.length)}`,
    );
    console.log(
      JSON.stringify({
        budget: name,
        seeds,
        jobs: jobs.map((j) => j.id),
        estimateSeconds: estimateProtocolSeconds(protocolBudgets[name], seeds.length),
      }),
    );
    return 0;
  }
  const out = resolve(outArg);
  await mkdir(out, { recursive: true });
  const stamp = join(out, 'experiment.json');
  if (existsSync(stamp)) {
    const prev = JSON.parse(await readFile(stamp, 'utf8')) as { budget: string };
    if (prev.budget !== name)
      throw new UsageError(`${out} holds a --budget ${prev.budget} experiment; choose another --out for --budget ${name}`);
  } else await writeJson(stamp, { budget: name, budgetConfig: protocolBudgets[name] });
  const t0 = performance.now();
  const results = await runProtocol(name, seeds, out, log);
  const md = protocolMarkdown(name, seeds, results);
  await mkdir(dirname(resolve(resultsArg)), { recursive: true });
  await writeFile(resolve(resultsArg), md);
  log(`wrote ${resolve(resultsArg)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(JSON.stringify({ budget: name, seeds, out, results: resolve(resultsArg), jobs: Object.fromEntries(results) }));
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`${e instanceof UsageError ? '' : `${e.stack}\n`}${e.message}\n`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}
