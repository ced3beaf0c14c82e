/**
 * Data-parallel scaling on this machine:
 *   npm run bench:scaling [-- --steps N --only PRESET --backends tensorflow,wasm]
 * Runs `cim pretrain --ranks R` for R = 1 and 2 and prints one JSON line per (backend, preset,
 * ranks): images/s from the median step after the first, step and all-reduce seconds, and the
 * speed-up over one rank. Per-rank batch stays at the preset's, so 2 ranks train a 2× batch.
 * On `tensorflow` one process uses every core (libtensorflow's intra-op pool) and `--ranks N`
 * gives each rank cores/N threads, so the two lines compare one process with all cores against
 * one rank per core; wasm runs one thread per process either way.
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childProcessEnv } from '@cim-forge/settings';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const { values } = parseArgs({ options: { steps: { type: 'string' }, only: { type: 'string' }, backends: { type: 'string' } } });
const PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC = 1.29; // issue 11: the authors' code, median, this machine class

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(backend: string, preset: string, ranks: number, steps: number): Record<string, number | string> {
  const out = mkdtempSync(join(tmpdir(), `cim-scaling-${preset}-${ranks}-`));
  const args = [
    '--import',
    'tsx',
    'apps/cli/src/main.ts',
    'pretrain',
    '--preset',
    preset,
    '--dataset',
    'synthetic',
    '--limit',
    '1024',
    '--max-steps',
    String(steps),
    '--checkpoint-every',
    '0',
    '--eval-images',
    '0',
    '--out',
    out,
    ...(ranks > 1 ? ['--ranks', String(ranks)] : []),
  ];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: childProcessEnv({ CIM_BACKEND: backend }) });
  if (r.status !== 0) throw new Error(`${preset} × ${ranks}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  const log = ranks > 1 ? join(out, 'ranks', 'rank-0.jsonl') : join(out, 'metrics.jsonl');
  if (!existsSync(log)) throw new Error(`no ${log}`);
  const lines = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .slice(1); // the first step warms up
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  const step = median(lines.map((l) => l.step_seconds));
  return {
    bench: 'scaling',
    backend,
    preset,
    ranks,
    batchPerRank: config.batchSize,
    steps: lines.length,
    secondsPerStep: +step.toFixed(3),
    imagesPerSec: +((config.batchSize * ranks) / step).toFixed(2),
    allReduceSecondsPerStep: +median(lines.map((l) => l.allreduce_seconds ?? 0)).toFixed(3),
    dataWaitSecondsPerStep: +median(lines.map((l) => l.data_wait_seconds ?? 0)).toFixed(3),
  };
}

const plan: Array<[string, number]> = [
  ['cpu-small', Number(values.steps ?? 12)],
  ['bench-vit-tiny', Number(values.steps ?? 5)],
];
for (const backend of (values.backends ?? 'tensorflow,wasm').split(',')) {
  for (const [preset, steps] of plan) {
    if (values.only && values.only !== preset) continue;
    const one = run(backend, preset, 1, steps);
    console.log(JSON.stringify(one));
    const two = run(backend, preset, 2, steps);
    console.log(
      JSON.stringify({
        ...two,
        speedup: +((two.imagesPerSec as number) / (one.imagesPerSec as number)).toFixed(2),
        ...(preset === 'bench-vit-tiny'
          ? {
              pytorchImagesPerSec: PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC,
              ratioToPytorch: +((two.imagesPerSec as number) / PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC).toFixed(2),
            }
          : {}),
      }),
    );
  }
}
