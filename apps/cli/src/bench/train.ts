/**
 * Training-step throughput, one JSON line per (backend, preset, mode):
 *
 *   npm run bench:train [-- --backends tensorflow,wasm --only bench-vit-tiny --steps 7 --warmup 2
 *                          --kernels auto|untransposed|native|compare --threads T]
 *
 * --backend webgpu runs on tfjs-backend-webgpu (--webgpu-adapter gpu|software); its lines carry the
 * adapter and the GPU memory tfjs holds (`gpuBytes`: its buffer pool after the steps, about the peak;
 * `gpuBytesInUse`: what live tensors hold). --only takes a list: matmul, cpu-small, cpu-resnet,
 * bench-vit-tiny (the default, with matmul), official-vit-base (ViT-B/16 at the paper's sizes,
 * micro-batch 256, one micro-batch a step: for GPUs), or `all`. --batch-size N overrides every
 * preset's batch and --mode step|with-sampler keeps one mode (dry runs on slow adapters).
 *
 *   mode "step"          a full training step (forward, backward, AdamW, EMA) on pre-sampled batches
 *   mode "with-sampler"  the same, fed by the prefetching loader (1 sampling thread) from images
 *
 * `--kernels compare` alternates the two kernel styles (libs/cim model/kernel-style.ts: the
 * dense gradients' transposes, im2col vs native convolutions) step by step in one process and
 * prints a `step` line for each.
 * Every figure is the median of per-step times (`secondsPerStep`; min and max beside it): the
 * authors' PyTorch code has steps 10× slower than its median, so means mislead. Each backend runs
 * in its own process (tfjs holds one backend per process here). The reference: the authors' PyTorch
 * code (Debian's torch 1.13 + OpenBLAS, 2 threads) trains bench-vit-tiny at a median 1.29 images/s
 * on this machine class (issue 11; 1.26 in docs/perf-notes.md).
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  BACKEND_CHOICES,
  cimModelFromConfig,
  collate,
  currentWebGpuAdapter,
  initBackend,
  nativeThreads,
  setKernelStyle,
  type BackendChoice,
  type CimBatch,
  type CimSample,
  type KernelStyle,
} from '@cim-forge/cim';
import { CimTrainer, cimSampleModule, syntheticBatches } from '@cim-forge/engine';
import { deriveTrainPlan, modelConfigOf, resolvePretrainConfig, samplerConfigOf, type PretrainConfig } from '@cim-forge/config';
import { PrefetchLoader } from '@cim-forge/data';
import { takeWebGpuAdapterFlag } from '../webgpu-flag.ts';
import { cliSettings } from '../args.ts';

const PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC = 1.29;
const PRESETS = [
  ['cpu-small', 28],
  ['cpu-resnet', 28],
  ['bench-vit-tiny', 375],
  ['official-vit-base', 375],
] as const;
const DEFAULT_ONLY = ['matmul', 'cpu-small', 'cpu-resnet', 'bench-vit-tiny'];

const webgpu = takeWebGpuAdapterFlag(process.argv.slice(2));
const { values } = parseArgs({
  args: webgpu.rest,
  options: {
    steps: { type: 'string' },
    only: { type: 'string' },
    warmup: { type: 'string' },
    backend: { type: 'string' },
    backends: { type: 'string' },
    kernels: { type: 'string' },
    threads: { type: 'string' },
    'batch-size': { type: 'string' },
    mode: { type: 'string' },
  },
});
const only = values.only === 'all' ? ['matmul', ...PRESETS.map(([p]) => p)] : (values.only?.split(',') ?? DEFAULT_ONLY);
const unknownOnly = only.filter((o) => o !== 'matmul' && !PRESETS.some(([p]) => p === o));
if (unknownOnly.length) {
  console.error(`bench:train: unknown --only ${unknownOnly.join(',')}; choose from matmul, ${PRESETS.map(([p]) => p).join(', ')}, all`);
  process.exit(2);
}
const batchOverride = values['batch-size'] ? Number(values['batch-size']) : undefined;
/** `step`, `with-sampler` or both (default) */
const modes = values.mode ? values.mode.split(',') : ['step', 'with-sampler'];

/** The parent: one child process per backend, its lines passed through. */
async function runPerBackend(backends: string[]): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const passOn = process.argv
    .slice(2)
    .filter((a, i, all) => a !== '--backends' && all[i - 1] !== '--backends' && !a.startsWith('--backends='));
  let status = 0;
  for (const b of backends) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', self, '--backend', b, ...passOn], { stdio: 'inherit' });
      child.on('exit', (c) => resolve(c ?? 1));
    });
    status ||= code;
  }
  return status;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median: mid, min: s[0], max: s[s.length - 1] };
};
const round = (x: number, d = 3) => +x.toFixed(d);

async function benchChild(choice: BackendChoice): Promise<void> {
  const steps = Number(values.steps ?? 7);
  const warmup = Number(values.warmup ?? 2);
  const threads = values.threads ? Number(values.threads) : undefined;
  const kernels = (values.kernels ?? 'auto') as KernelStyle | 'compare';
  setKernelStyle(kernels === 'compare' ? 'auto' : kernels);
  const webgpuAdapter = webgpu.adapter ?? cliSettings().webgpuAdapter;
  const backend = await initBackend(choice, choice === 'webgpu' ? (m) => console.error(m) : undefined, { threads, webgpuAdapter });
  const common = { backend: backend.name, kernels, threads: nativeThreads() };
  const adapter = currentWebGpuAdapter();
  /** on webgpu: the adapter and tfjs' GPU buffers, read when the line is printed */
  const where = (): Record<string, unknown> => {
    if (!adapter) return {};
    const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
    return {
      adapter: adapter.name,
      adapterKind: adapter.kind,
      gpuBytes: m.numBytesAllocatedInGPU ?? null,
      gpuBytesInUse: m.numBytesInGPU ?? null,
    };
  };

  async function bench(preset: string, imageSize: number): Promise<void> {
    // one micro-batch a step (official-vit-base accumulates 2 in the paper: a step here is half of theirs)
    const config: PretrainConfig = resolvePretrainConfig(preset, {
      dataset: { kind: 'synthetic', size: 4096, imageSize, seed: 0 },
      workers: 1,
      warmupEpochs: 0,
      accumIter: 1,
      ...(batchOverride ? { batchSize: batchOverride } : {}),
    });
    const model = cimModelFromConfig(modelConfigOf(config), 0);
    const trainer = new CimTrainer(model, config, deriveTrainPlan(config, 4096));
    const B = config.batchSize;
    const line = (mode: string, perStep: number[], extra: Record<string, unknown> = {}) => {
      const s = stats(perStep);
      console.log(
        JSON.stringify({
          bench: 'train',
          ...common,
          preset,
          mode,
          model: config.model,
          batch: B,
          exemplars: samplerConfigOf(config).numExemplars,
          steps: perStep.length,
          secondsPerStep: round(s.median),
          minSecondsPerStep: round(s.min),
          maxSecondsPerStep: round(s.max),
          imagesPerSec: round(B / s.median),
          ...extra,
          ...(preset === 'bench-vit-tiny'
            ? {
                pytorchImagesPerSec: PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC,
                ratioToPytorch: round(B / s.median / PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC),
              }
            : {}),
          rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
          numTensors: tf.memory().numTensors,
          ...where(),
        }),
      );
    };
    // 1. the step alone, on batches sampled beforehand; `--kernels compare` alternates the two
    //    kernel styles step by step, so a loaded machine slows both alike
    const batches: CimBatch[] = syntheticBatches(config, 2, 5);
    for (let i = 0; i < warmup; i++) await trainer.trainStep([batches[i % 2]]);
    const forms: KernelStyle[] = kernels === 'compare' ? ['untransposed', 'native'] : [kernels];
    const perStep = new Map<KernelStyle, number[]>(forms.map((f) => [f, []]));
    for (let i = 0; i < steps * forms.length; i++) {
      const form = forms[i % forms.length];
      setKernelStyle(form);
      const t0 = performance.now();
      await trainer.trainStep([batches[i % 2]]);
      perStep.get(form)!.push((performance.now() - t0) / 1000);
    }
    if (modes.includes('step')) for (const [form, times] of perStep) line('step', times, forms.length > 1 ? { kernels: form } : {});
    setKernelStyle(kernels === 'compare' ? 'auto' : kernels);
    if (!modes.includes('with-sampler')) {
      trainer.dispose();
      model.dispose();
      return;
    }
    // 2. fed by the loader: sampling on a worker thread, overlapped with the step
    const s = samplerConfigOf(config);
    const loader = new PrefetchLoader<CimSample>({
      source: config.dataset,
      sampleModule: cimSampleModule,
      sampleExport: 'cimSample',
      sampleOptions: s,
      batchSize: B,
      seed: 0,
      workers: 1,
      prefetch: 2,
      dropLast: true,
    });
    for (let i = 0; i < warmup; i++) await trainer.trainStep([collate((await loader.next()).samples, s)]);
    const withSampler: number[] = [];
    const waits: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      const b = await loader.next();
      waits.push((performance.now() - t0) / 1000);
      await trainer.trainStep([collate(b.samples, s)]);
      withSampler.push((performance.now() - t0) / 1000);
    }
    const wait = stats(waits).median;
    line('with-sampler', withSampler, {
      dataWaitSecondsPerStep: round(wait),
      dataWaitShare: round(wait / stats(withSampler).median),
      imageSize,
    });
    await loader.close();
    trainer.dispose();
    model.dispose();
    if (tf.memory().numTensors > 10) console.error(`warning: ${tf.memory().numTensors} tensors left`);
  }

  /** The kernel everything rests on: untransposed 2-D matmul, and with a transpose flag, for the ratio. */
  async function benchMatmul(): Promise<void> {
    // a GPU gets a large product too; llvmpipe (the software adapter, ~1 GFLOP/s) only the small one
    const shapes =
      adapter?.kind === 'gpu'
        ? [
            [512, 512, 512],
            [4848, 512, 2048],
            [4096, 4096, 4096],
          ]
        : adapter?.kind === 'software'
          ? [[512, 512, 512]]
          : [
              [512, 512, 512],
              [4848, 512, 2048],
            ];
    for (const [m, k, n] of shapes) {
      const a = tf.randomNormal([m, k]);
      const b = tf.randomNormal([k, n]);
      const bT = tf.transpose(b);
      // a read waits for the product (async: webgpu has no synchronous read in Node)
      const time = async (f: () => tf.Tensor) => {
        const w = f();
        await w.data();
        w.dispose();
        const runs: number[] = [];
        for (let i = 0; i < 5; i++) {
          const t0 = performance.now();
          const c = f();
          await c.data();
          c.dispose();
          runs.push((performance.now() - t0) / 1000);
        }
        return stats(runs).median;
      };
      const plain = await time(() => tf.matMul(a, b));
      const flagged = await time(() => tf.matMul(a, bT, false, true));
      console.log(
        JSON.stringify({
          bench: 'matmul',
          ...common,
          shape: [m, k, n],
          gflops: round((2 * m * k * n) / plain / 1e9, 1),
          transposeFlagGflops: round((2 * m * k * n) / flagged / 1e9, 1),
          ...where(),
        }),
      );
      tf.dispose([a, b, bT]);
    }
  }

  if (only.includes('matmul')) await benchMatmul();
  for (const [preset, imageSize] of PRESETS) {
    if (only.includes(preset)) await bench(preset, imageSize);
  }
}

if (values.backend) {
  if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) throw new Error(`--backend must be one of ${BACKEND_CHOICES.join(', ')}`);
  await benchChild(values.backend as BackendChoice);
  process.exit(0);
}
process.exit(await runPerBackend((values.backends ?? 'tensorflow,wasm').split(',')));
