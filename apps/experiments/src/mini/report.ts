/** The miniature table's report: mean ± std per arm and task, what it shows, wall times, the commands. */
import { cell, fmtCell, verdict, type Cell } from '../shared/stats.ts';
import { machineInfo, type MachineInfo } from '../shared/machine.ts';
import { budgets, finetuneConfig, FT_AUG_FLAGS, INITS, layerDecayOf, MODEL, pretrainConfig, TASKS } from './plan.ts';
import type { Budget, BudgetName, Init, JobResult, Task } from './plan.ts';

export type Table = Record<Init, Record<Task, Cell>>;

export function tableOf(results: Map<string, JobResult>, seeds: number[]): Table {
  const t = {} as Table;
  for (const init of INITS) {
    t[init] = {} as Record<Task, Cell>;
    for (const task of TASKS) t[init][task] = cell(seeds.map((s) => 100 * results.get(`${task}-${init}-s${s}`)!.top1!));
  }
  return t;
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
      : `The paper's claim (a clear gain with 10% of the labels and on the probe) is ` +
          `${v10.clear || vp.clear ? 'only partly' : 'not'} reproduced at this scale. ` +
          `Plausible reasons: the pre-training here is ${pretrainSteps} CPU steps of batch 32 for a 0.2 ` +
          `M-parameter ViT on 32-px images, orders of magnitude below the paper's 300 ImageNet epochs of ` +
          `ViT-B; ` +
          'Fashion-MNIST is easy enough that a small model from scratch learns most of it from a few thousand ' +
          'labels; and a random encoder is a strong linear-probe baseline on such simple images. ' +
          (n < 3 ? `With ${n} seed(s) the spread is not measured well either.` : ''),
  );
  if (v100.diff < v10.diff && v10.diff > 0) parts.push('As in the paper, the gap shrinks when all the labels are used.');
  return parts.join(' ');
}

export function cliCommands(b: Budget, budget: BudgetName, seeds: number[], out: string, results: string, parallel: number): string[] {
  const o = out;
  const pt = pretrainConfig(b);
  const s = seeds[0];
  const ft = (task: 'ft10' | 'ft100', init: Init) => {
    const c = finetuneConfig(b, task, s, null);
    return (
      `npm run cim -- finetune --from ${init === 'cim' ? `${o}/pretrain` : `scratch --model ${MODEL}`} --dataset fashion-mnist --limit ${b.ftImages} ` +
      `--eval-images ${b.evalImages} --labels-fraction ${c.labelsFraction} --epochs ${c.epochs} --warmup-epochs ${c.warmupEpochs} ` +
      `--batch-size ${c.batchSize} --base-lr ${c.baseLr} --layer-decay ${layerDecayOf(init)} ` +
      `${FT_AUG_FLAGS} --checkpoint-every ${c.checkpointEvery} --seed ${s} --backend wasm --out ${o}/${task}-${init}-s${s}`
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
  machine: MachineInfo;
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
    machine: machineInfo(),
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
    `| pre-training | ${min(ph.pretrain.wallSeconds)} | ${min(ph.pretrain.jobSeconds)} | ` +
      `${ph.pretrain.secondsPerStep ? `${ph.pretrain.secondsPerStep.toFixed(3)} s (batch 32)` : '-'} |`,
    `| fine-tuning | ${min(ph.finetune.wallSeconds)} | ${min(ph.finetune.jobSeconds)} | ` +
      `${ph.finetune.secondsPerStep ? `${ph.finetune.secondsPerStep.toFixed(3)} s (batch ${b.ftBatch}, with per-epoch scoring)` : '-'} |`,
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
