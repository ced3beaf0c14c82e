/**
 * The GPU check's steps (scripts/gpu/run.sh sets up node, node_modules, the Vulkan loader and Redis,
 * then runs this): parity on webgpu, bench:train for every preset (official-vit-base: ViT-B/16 at
 * the paper's micro-batch), a 2-rank data-parallel pre-training on the one GPU, and one JSON report
 * (docs/gpu.md describes it). Each step is its own process with its own time limit; the whole run
 * stays under 8 minutes.
 *
 *   node --import tsx scripts/gpu/run-steps.ts --out DIR [--software] [--redis URL]
 *     --software  the same steps on Dawn's software adapter at tiny sizes (a dry run on any machine)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { out: { type: 'string' }, software: { type: 'boolean' }, redis: { type: 'string' }, 'budget-s': { type: 'string' } },
});
const out = resolve(values.out ?? 'gpu-out');
mkdirSync(out, { recursive: true });
const software = values.software ?? false;
const adapter = software ? 'software' : 'gpu';
const redis = values.redis ?? 'redis://127.0.0.1:6391';
const started = Date.now();
/** the whole run's budget: steps that would start past it are recorded as skipped */
const budgetMs = Number(values['budget-s'] ?? (software ? 1800 : 450)) * 1000;

interface StepRecord {
  name: string;
  command: string;
  exitCode: number | null;
  timedOut: boolean;
  skipped?: string;
  seconds: number;
  /** the JSON lines the command printed on stdout */
  json: unknown[];
  /** the largest GPU memory in use (nvidia-smi) while it ran, MiB; null without nvidia-smi */
  gpuMemoryPeakMiB: number | null;
  stderrTail: string;
}

function nvidiaSmi(query: string): string | null {
  const r = spawnSync('nvidia-smi', [`--query-gpu=${query}`, '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** run one command with a time limit; sample nvidia-smi's memory.used every second meanwhile */
function step(name: string, args: string[], limitS: number): Promise<StepRecord> {
  const command = `node --import tsx ${args.join(' ')}`;
  const left = budgetMs - (Date.now() - started);
  if (left < 15_000) {
    return Promise.resolve({
      name,
      command,
      exitCode: null,
      timedOut: false,
      skipped: 'the run budget is spent',
      seconds: 0,
      json: [],
      gpuMemoryPeakMiB: null,
      stderrTail: '',
    });
  }
  const limitMs = Math.min(limitS * 1000, left - 5_000);
  console.error(`[gpu] ${name}: ${command} (limit ${Math.round(limitMs / 1000)} s)`);
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CIM_WEBGPU_ADAPTER: adapter },
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-20_000);
      process.stderr.write(d);
    });
    let peak: number | null = null;
    const sample = setInterval(() => {
      const used = nvidiaSmi('memory.used');
      if (used !== null) peak = Math.max(peak ?? 0, ...used.split('\n').map(Number));
    }, 1000);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the command and the ranks it started
      } catch {
        child.kill('SIGKILL');
      }
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearInterval(sample);
      const json: unknown[] = [];
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          json.push(JSON.parse(line));
        } catch {
          // not JSON
        }
      }
      writeFileSync(join(out, `${name}.log`), `$ ${command}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`);
      done({
        name,
        command,
        exitCode: code,
        timedOut,
        seconds: +((Date.now() - t0) / 1000).toFixed(1),
        json,
        gpuMemoryPeakMiB: peak,
        stderrTail: stderr.split('\n').slice(-12).join('\n'),
      });
    });
  });
}

const webgpu = ['--backend', 'webgpu', '--webgpu-adapter', adapter];
const steps: StepRecord[] = [];

// 0. the adapter, as the worker would label it
steps.push(await step('adapter', ['scripts/gpu/probe-adapter.ts', adapter], 60));

// 1. parity with the authors' PyTorch numbers, on this adapter
steps.push(await step('parity', ['apps/cli/src/main.ts', 'parity', '--fixture', 'fixtures/cim-parity-small.safetensors', ...webgpu], 90));

// 2. bench:train, one process per preset (a slow one cannot take the others' results with it)
const bench = (only: string, extra: string[], limitS: number) =>
  step(`bench-${only}`, ['apps/cli/src/bench/train.ts', '--only', only, ...extra, ...webgpu], limitS);
if (software) {
  steps.push(await bench('matmul', [], 120));
  // llvmpipe runs ~1 GFLOP/s: one step of batch 1 each, the step alone (a ViT-B/16 step is ~100 GFLOP)
  for (const p of ['cpu-small', 'cpu-resnet', 'bench-vit-tiny', 'official-vit-base'])
    steps.push(await bench(p, ['--steps', '1', '--warmup', '0', '--batch-size', '1', '--mode', 'step'], 600));
} else {
  steps.push(await bench('matmul', [], 60));
  steps.push(await bench('cpu-small', ['--steps', '10', '--warmup', '3'], 45));
  steps.push(await bench('cpu-resnet', ['--steps', '10', '--warmup', '3'], 45));
  steps.push(await bench('bench-vit-tiny', ['--steps', '10', '--warmup', '3'], 60));
  // micro-batch 256: a line only comes when its steps are done, so few steps, and the largest limit
  steps.push(await bench('official-vit-base', ['--steps', '3', '--warmup', '1'], 170));
}

// 3. data parallel: 2 ranks on the one GPU, gradients averaged over Redis; weights must end identical
const dpOut = join(out, 'dp');
const dpArgs = software
  ? ['--preset', 'smoke', '--limit', '64', '--batch-size', '4', '--max-steps', '2']
  : ['--preset', 'bench-vit-tiny', '--dataset', 'synthetic', '--limit', '2048', '--batch-size', '32', '--max-steps', '20'];
steps.push(
  await step(
    'data-parallel-2-ranks',
    [
      'apps/cli/src/main.ts',
      'pretrain',
      ...dpArgs,
      '--ranks',
      '2',
      '--redis',
      redis,
      '--workers',
      '1',
      '--eval-images',
      '0',
      '--checkpoint-every',
      '0',
      '--out',
      dpOut,
      ...webgpu,
    ],
    software ? 600 : 120,
  ),
);

/** the per-rank step and all-reduce times the data-parallel run logged */
function rankFigures(): unknown[] {
  const figures = [];
  for (const r of [0, 1]) {
    const f = join(dpOut, 'ranks', `rank-${r}.jsonl`);
    if (!existsSync(f)) continue;
    const lines = readFileSync(f, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, number>);
    const later = lines.slice(Math.min(2, lines.length - 1)); // the first steps compile shaders
    const mean = (k: string) => later.reduce((a, l) => a + (l[k] ?? 0), 0) / Math.max(1, later.length);
    figures.push({
      rank: r,
      steps: lines.length,
      meanStepSeconds: +mean('step_seconds').toFixed(4),
      meanComputeSeconds: +mean('compute_seconds').toFixed(4),
      meanAllReduceSeconds: +mean('allreduce_seconds').toFixed(4),
      allReduceBytes: later[0]?.allreduce_bytes ?? null,
      meanDataWaitSeconds: +mean('data_wait_seconds').toFixed(4),
    });
  }
  return figures;
}

const by = (name: string) => steps.find((s) => s.name === name)!;
const parity = by('parity').json.at(-1) as { ok?: boolean } | undefined;
const dp = by('data-parallel-2-ranks').json.at(-1) as { ok?: boolean; identicalWeights?: boolean } | undefined;
const benchLines = steps.filter((s) => s.name.startsWith('bench-')).flatMap((s) => s.json);
const report = {
  format: 'cim-forge-gpu-report/1',
  mode: software ? "software (dry run: tiny sizes on Dawn's software adapter)" : 'gpu',
  startedAt: new Date(started).toISOString(),
  seconds: +((Date.now() - started) / 1000).toFixed(1),
  machine: {
    gpu: nvidiaSmi('name,driver_version,memory.total'),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    adapter: by('adapter').json.at(-1) ?? null,
  },
  summary: {
    parityOk: parity?.ok === true,
    benchLines: benchLines.length,
    dataParallelOk: dp?.ok === true && dp?.identicalWeights === true,
    failed: steps.filter((s) => s.exitCode !== 0).map((s) => s.name),
  },
  parity: parity ?? null,
  bench: benchLines,
  dataParallel: { result: dp ?? null, ranks: rankFigures() },
  steps,
};
writeFileSync(join(out, 'gpu-report.json'), `${JSON.stringify(report, null, 2)}\n`);
console.error(
  `[gpu] report: ${join(out, 'gpu-report.json')} (${report.seconds} s): parity ` +
    `${report.summary.parityOk ? 'ok' : 'FAILED'}, ${benchLines.length} bench lines, data parallel ${report.summary.dataParallelOk ? 'ok' : 'FAILED'}`,
);
process.exit(report.summary.failed.length === 0 ? 0 : 1);
