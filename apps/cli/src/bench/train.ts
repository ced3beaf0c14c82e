/**
 * Training-step throughput, one JSON line per (backend, preset, mode); `--help` lists the flags.
 *
 *   npm run bench:train [-- --backends tensorflow,wasm --only bench-vit-tiny --steps 7 --warmup 2
 *                          --kernels auto|untransposed|native|compare --threads T]
 *   npm run bench:train -- --backends tensorflow --only finetune-resnet --mode no-aug --pytorch
 *
 * Classifier presets (train-classifier.ts): finetune-resnet / finetune-vit (modes `no-aug` and
 * `aug`, batch 128), features-resnet / features-vit (eval-mode forward, as probe and k-NN), and
 * robustness-resnet / robustness-vit (`eval-clean`, `pgd-step`). `--pytorch` runs
 * scripts/bench/torch_resnet_micro.py (Debian's python3-torch) after ours in the same run and
 * prints its lines and the ratio. `--fused compare` alternates the ResNet's fused tensorflow
 * kernels (libs/cim resnet/tf-kernels.ts) with the composite ops step by step.
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
 * `--kernels compare` alternates the two kernel styles (libs/cim nn/kernel-style.ts: the
 * dense gradients' transposes, im2col vs native convolutions) step by step in one process and
 * prints a `step` line for each.
 * Every figure is the median of per-step times (`secondsPerStep`; min and max beside it): the
 * authors' PyTorch code has steps 10× slower than its median, so means mislead. Each backend runs
 * in its own process (tfjs holds one backend per process here). The reference: the authors' PyTorch
 * code (Debian's torch 1.13 + OpenBLAS, 2 threads) trains bench-vit-tiny at a median 1.29 images/s
 * on this machine class (issue 11; 1.26 in docs/perf-notes.md).
 */
import { parseArgs } from 'node:util';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import os from 'node:os';
import type { Readable } from 'node:stream';
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
  setFusedTfKernels,
  setDnnlConv,
  setDnnlThreads,
  setDnnlBatchNorm,
  dnnlConvOn,
  dnnlConvStatus,
  dnnlVersion,
  setDnnlZeroCopy,
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
import { benchClassifier, CLASSIFIER_PRESETS, type ClassifierPreset } from './train-classifier.ts';

const HELP = `Usage: npm run bench:train -- [options]

Times training steps and prints one JSON line per (backend, preset, mode): the median of per-step
seconds (secondsPerStep) with min and max, and images/s at the median.

Options
  --backends LIST     backends, each in its own process (default tensorflow,wasm); --backend B runs one here
  --only LIST         what to time (default ${['matmul', 'cpu-small', 'cpu-resnet', 'bench-vit-tiny'].join(',')}); \`all\` = every pre-training preset
                        matmul             2-D products, plain and with a transpose flag (GFLOP/s)
                        cpu-small, cpu-resnet, bench-vit-tiny, official-vit-base
                                           CIM pre-training steps (modes step, with-sampler)
                        finetune-resnet, finetune-vit
                                           fine-tuning steps, batch 128 (modes no-aug, aug)
                        features-resnet, features-vit
                                           feature extraction as probe and k-NN run it (eval mode, forward only)
                        robustness-resnet, robustness-vit
                                           robustness evaluation (modes eval-clean, pgd-step)
  --mode LIST         keep these modes only (e.g. no-aug, or step)
  --steps N           timed steps per mode (default 7); --warmup N untimed steps first (default 2)
  --batch-size N      override every preset's batch
  --threads T         libtensorflow intra-op threads (default: all cores; TF_NUM_INTRAOP_THREADS wins)
  --kernels K         auto | untransposed | native | compare (kernel style, libs/cim nn/kernel-style.ts)
  --fused F           on | off | compare: the ResNet's fused tensorflow kernels (default on)
  --conv C            auto | tf | dnnl | dnnl1 | dnnl-bn | compare: the fused convolution on oneDNN (libs/cim/native/
                        cim_dnnl.c; auto, the default: when built and zero-copy) or on libtensorflow's own
                        kernels (tf); auto and dnnl-bn run BatchNorm's training passes on oneDNN too (zero-copy
                        only), dnnl and dnnl1 the convolutions only (dnnl1: one OpenMP thread); compare
                        alternates tf, dnnl, dnnl1, dnnl-bn and
                        dnnl-copy (oneDNN with tensors copied, no zero-copy bridge) step by step
  --pytorch           also run scripts/bench/torch_resnet_micro.py (cimResnetMicro in PyTorch, same modes)
                        and, for -vit presets, torch_vit_micro.py (cimVitMicroPatch4: finetune, features)
                        in the same run; needs /usr/bin/python3 with Debian's python3-torch
  --webgpu-adapter A  gpu | software (with --backend webgpu)
  --help              this text

Examples
  npm run bench:train -- --backends tensorflow --only finetune-resnet,features-resnet,robustness-resnet --pytorch
  npm run bench:train -- --backends tensorflow --only finetune-resnet --mode no-aug --fused compare --steps 10`;

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
    fused: { type: 'string' },
    conv: { type: 'string' },
    pytorch: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: false,
});
const known = new Set([
  'steps',
  'only',
  'warmup',
  'backend',
  'backends',
  'kernels',
  'threads',
  'batch-size',
  'mode',
  'fused',
  'conv',
  'pytorch',
  'help',
  'h',
]);
const unknownFlags = Object.keys(values).filter((k) => !known.has(k));
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
if (unknownFlags.length) {
  console.error(`bench:train: unknown option ${unknownFlags.map((f) => `--${f}`).join(', ')} (see --help)`);
  process.exit(2);
}
for (const k of ['steps', 'warmup', 'batch-size', 'threads'] as const) {
  const v = values[k];
  if (v !== undefined && !(typeof v === 'string' && /^[1-9]\d*$/.test(v)) && !(k === 'warmup' && v === '0')) {
    console.error(`bench:train: --${k} takes a positive integer, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
}
if (values.fused !== undefined && !['on', 'off', 'compare'].includes(values.fused as string)) {
  console.error(`bench:train: --fused takes on, off or compare, got ${JSON.stringify(values.fused)}`);
  process.exit(2);
}
if (values.conv !== undefined && !['auto', 'dnnl', 'dnnl1', 'dnnl-bn', 'tf', 'compare'].includes(values.conv as string)) {
  console.error(`bench:train: --conv takes auto, tf, dnnl, dnnl1, dnnl-bn or compare, got ${JSON.stringify(values.conv)}`);
  process.exit(2);
}
const onlyArg = values.only as string | undefined;
const only = onlyArg === 'all' ? ['matmul', ...PRESETS.map(([p]) => p)] : (onlyArg?.split(',') ?? DEFAULT_ONLY);
const unknownOnly = only.filter((o) => o !== 'matmul' && !PRESETS.some(([p]) => p === o) && !(o in CLASSIFIER_PRESETS));
if (unknownOnly.length) {
  console.error(
    `bench:train: unknown --only ${unknownOnly.join(',')}; choose from matmul, ` +
      `${[...PRESETS.map(([p]) => p), ...Object.keys(CLASSIFIER_PRESETS)].join(', ')}, all`,
  );
  process.exit(2);
}
const batchOverride = values['batch-size'] ? Number(values['batch-size']) : undefined;
/** `step`, `with-sampler` or both (default) for pre-training; a classifier preset's own modes otherwise */
const modeArg = values.mode as string | undefined;
const modes = modeArg ? modeArg.split(',') : ['step', 'with-sampler'];

/** The parent: one child process per backend, its lines passed through. */
/** Echo a child's stdout line by line and collect its result lines (JSON objects). */
function echoResultLines(child: ChildProcessByStdio<null, Readable, null>, lines: Array<Record<string, unknown>>): void {
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      console.log(l);
      if (!l.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* not a result line */
      }
    }
  });
}

async function runPerBackend(backends: string[], lines: Array<Record<string, unknown>>): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const passOn = process.argv
    .slice(2)
    .filter((a, i, all) => a !== '--backends' && all[i - 1] !== '--backends' && !a.startsWith('--backends=') && a !== '--pytorch');
  let status = 0;
  for (const b of backends) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', self, '--backend', b, ...passOn], { stdio: ['ignore', 'pipe', 'inherit'] });
      echoResultLines(child, lines);
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
  const fused = (values.fused ?? 'on') as 'on' | 'off' | 'compare';
  setFusedTfKernels(fused !== 'off');
  const conv = (values.conv ?? 'auto') as 'auto' | 'dnnl' | 'dnnl1' | 'dnnl-bn' | 'tf' | 'compare';
  setDnnlConv(conv === 'auto' ? 'auto' : conv !== 'tf');
  setDnnlBatchNorm(conv === 'dnnl-bn' || conv === 'auto');
  if (conv === 'dnnl1') setDnnlThreads(1);
  setKernelStyle(kernels === 'compare' ? 'auto' : kernels);
  const webgpuAdapter = webgpu.adapter ?? cliSettings().webgpuAdapter;
  const backend = await initBackend(choice, choice === 'webgpu' ? (m) => console.error(m) : undefined, { threads, webgpuAdapter });
  const common = { backend: backend.name, kernels, threads: nativeThreads() };
  if (backend.name === 'tensorflow' && conv !== 'compare') console.error(`bench:train: convolutions on ${dnnlConvStatus()}`);
  const convLabel = conv === 'compare' ? 'compare' : dnnlConvOn() ? `dnnl ${dnnlVersion()}` : 'tf';
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
  for (const preset of Object.keys(CLASSIFIER_PRESETS) as ClassifierPreset[]) {
    if (!only.includes(preset)) continue;
    await benchClassifier(preset, {
      steps,
      warmup,
      batchSize: batchOverride,
      modes: modeArg ? modes : undefined,
      variants:
        fused === 'compare'
          ? [
              { name: 'composite', set: () => setFusedTfKernels(false) },
              { name: 'fused', set: () => setFusedTfKernels(true) },
            ]
          : conv === 'compare'
            ? [
                { name: 'tf-conv', set: () => (setDnnlConv(false), setDnnlBatchNorm(false)) },
                {
                  name: 'dnnl-conv',
                  set: () => (setDnnlConv(true), setDnnlBatchNorm(false), setDnnlZeroCopy(true), setDnnlThreads(os.availableParallelism())),
                },
                { name: 'dnnl1-conv', set: () => (setDnnlConv(true), setDnnlBatchNorm(false), setDnnlZeroCopy(true), setDnnlThreads(1)) },
                {
                  name: 'dnnl-bn-conv',
                  set: () => (setDnnlConv(true), setDnnlZeroCopy(true), setDnnlThreads(os.availableParallelism()), setDnnlBatchNorm(true)),
                },
                // the same kernels with the tensors copied out of and back into libtensorflow (no zero-copy bridge)
                {
                  name: 'dnnl-copy-conv',
                  set: () => (setDnnlConv(true), setDnnlZeroCopy(false), setDnnlThreads(os.availableParallelism())),
                },
              ]
            : undefined,
      line: ({ preset, model, mode, batch, perStep, extra }) => {
        const s = stats(perStep);
        console.log(
          JSON.stringify({
            bench: 'train',
            ...common,
            fused,
            conv: convLabel,
            preset,
            mode,
            model,
            batch,
            steps: perStep.length,
            secondsPerStep: round(s.median, 4),
            minSecondsPerStep: round(s.min, 4),
            maxSecondsPerStep: round(s.max, 4),
            imagesPerSec: round(batch / s.median, 1),
            ...extra,
            rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
            numTensors: tf.memory().numTensors,
            ...where(),
          }),
        );
      },
    });
  }
}

/** PyTorch's cimResnetMicro (scripts/bench/torch_resnet_micro.py) in this run, its lines passed through and returned. */
async function runPytorch(name: 'torch_resnet_micro.py' | 'torch_vit_micro.py'): Promise<Array<Record<string, unknown>>> {
  const script = fileURLToPath(new URL(`../../../../scripts/bench/${name}`, import.meta.url));
  const args = [script, '--steps', String(values.steps ?? 7), '--warmup', String(values.warmup ?? 2)];
  if (batchOverride) args.push('--batch-size', String(batchOverride));
  const lines: Array<Record<string, unknown>> = [];
  const code = await new Promise<number>((resolve) => {
    const child = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    echoResultLines(child, lines);
    child.on('error', (e) => {
      console.error(`bench:train: /usr/bin/python3 ${script} did not start (${e.message}); apt-get install -y python3-torch`);
      resolve(1);
    });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0)
    console.error(`bench:train: the PyTorch reference exited with ${code} (Debian's python3-torch: apt-get install -y python3-torch)`);
  return lines;
}

if (values.backend) {
  if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) throw new Error(`--backend must be one of ${BACKEND_CHOICES.join(', ')}`);
  await benchChild(values.backend as BackendChoice);
  process.exit(0);
}
const ours: Array<Record<string, unknown>> = [];
const status = await runPerBackend(((values.backends as string | undefined) ?? 'tensorflow,wasm').split(','), ours);
if (values.pytorch) {
  // the ResNet's script always (the earlier behaviour), the ViT's when a -vit preset ran
  const torch = [
    ...(only.some((o) => o.endsWith('-resnet')) || !only.some((o) => o.endsWith('-vit')) ? await runPytorch('torch_resnet_micro.py') : []),
    ...(only.some((o) => o.endsWith('-vit')) ? await runPytorch('torch_vit_micro.py') : []),
  ];
  // fine-tuning without augmentation is PyTorch's `finetune` line (it has no augmentation pipeline)
  const torchMode: Record<string, string> = {
    'no-aug': 'finetune',
    features: 'features',
    'eval-clean': 'eval-clean',
    'pgd-step': 'pgd-step',
  };
  for (const l of ours) {
    if (!(String(l.mode) in torchMode)) continue;
    // each script's lines name its network as `preset` (cimResnetMicro, cimVitMicroPatch4): ours as `model`
    const t = torch.find((r) => r.mode === torchMode[String(l.mode)] && r.preset === l.model);
    if (!t) continue;
    console.log(
      JSON.stringify({
        bench: 'train-vs-pytorch',
        backend: l.backend,
        preset: l.preset,
        mode: l.mode,
        ...(l.variant ? { variant: l.variant } : {}),
        imagesPerSec: l.imagesPerSec,
        pytorchImagesPerSec: t.imagesPerSec,
        ratio: round(Number(l.imagesPerSec) / Number(t.imagesPerSec), 2),
      }),
    );
  }
}
process.exit(status);
