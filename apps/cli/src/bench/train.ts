/**
 * Training-step throughput: `npm run bench:train [-- --steps N --only PRESET[,PRESET] --backend B]`.
 * --only takes cpu-small, cpu-resnet, bench-vit-tiny (the default three), official-vit-base (ViT-B/16
 * at the paper's sizes: micro-batch 256, one micro-batch a step; for GPUs), matmul, or `all`.
 * --batch-size N overrides every preset's batch and --mode step|with-sampler keeps one mode (dry runs); --backend B / CIM_BACKEND picks the
 * backend (webgpu: --webgpu-adapter gpu|software). On webgpu each line also carries the adapter and
 * the GPU memory tfjs holds (`gpuBytes`: its buffer pool after the steps, about the peak;
 * `gpuBytesInUse`: what live tensors hold).
 * One JSON line per (preset, mode):
 *   mode "step"          a full training step (forward, backward, AdamW, EMA) on pre-sampled batches
 *   mode "with-sampler"  the same, fed by the prefetching loader (1 sampling thread) from images
 * Reference: the authors' PyTorch code trains bench-vit-tiny at about 1.5 images/s on this machine
 * class (2 cores, float32).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { cimModelFromConfig, collate, initBackend, type CimBatch, type CimSample } from '@cim-forge/cim';
import { CimTrainer, cimSampleModule, deriveTrainPlan, modelConfigOf, resolvePretrainConfig, samplerConfigOf, syntheticBatches, type PretrainConfig } from '@cim-forge/engine';
import { PrefetchLoader } from '@cim-forge/data';
import { takeWebGpuAdapterFlag } from '../webgpu-flag.ts';
import { currentWebGpuAdapter, type BackendChoice } from '@cim-forge/cim';

const PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC = 1.5;

const { values } = parseArgs({
  args: takeWebGpuAdapterFlag(process.argv.slice(2), process.env),
  options: { steps: { type: 'string' }, only: { type: 'string' }, warmup: { type: 'string' }, backend: { type: 'string' }, 'batch-size': { type: 'string' }, mode: { type: 'string' } },
});
const steps = Number(values.steps ?? 3);
const warmup = Number(values.warmup ?? 2);
const batchOverride = values['batch-size'] ? Number(values['batch-size']) : undefined;
/** `step`, `with-sampler` or both (default) */
const modes = values.mode ? values.mode.split(',') : ['step', 'with-sampler'];
const backend = await initBackend((values.backend ?? process.env.CIM_BACKEND ?? 'auto') as BackendChoice, (m) => console.error(m));
const adapter = currentWebGpuAdapter();
/** where it ran, on every line: the adapter and tfjs' GPU buffers on webgpu */
const where = (): Record<string, unknown> => {
  if (!adapter) return { backend: backend.name };
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  return { backend: backend.name, adapter: adapter.name, adapterKind: adapter.kind, gpuBytes: m.numBytesAllocatedInGPU ?? null, gpuBytesInUse: m.numBytesInGPU ?? null };
};

async function bench(preset: string, imageSize: number): Promise<void> {
  // one micro-batch a step (official-vit-base accumulates 2 in the paper: a step here is half of theirs)
  const config: PretrainConfig = resolvePretrainConfig(preset, {
    dataset: { kind: 'synthetic', size: 4096, imageSize, seed: 0 }, workers: 1, warmupEpochs: 0, accumIter: 1, ...(batchOverride ? { batchSize: batchOverride } : {}),
  });
  const model = cimModelFromConfig(modelConfigOf(config), 0);
  const trainer = new CimTrainer(model, config, deriveTrainPlan(config, 4096));
  const B = config.batchSize;
  // 1. the step alone, on batches sampled beforehand
  const batches: CimBatch[] = syntheticBatches(config, 2, 5);
  for (let i = 0; i < warmup; i++) await trainer.trainStep([batches[i % 2]]);
  let t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainer.trainStep([batches[i % 2]]);
  let sec = (performance.now() - t0) / 1000 / steps;
  const line = (mode: string, s: number, extra: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({
      bench: 'train', preset, mode, model: config.model, batch: B, exemplars: samplerConfigOf(config).numExemplars,
      secondsPerStep: +s.toFixed(3), imagesPerSec: +(B / s).toFixed(3), ...where(), ...extra,
      ...(preset === 'bench-vit-tiny' ? { pytorchImagesPerSec: PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC, ratioToPytorch: +((B / s) / PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC).toFixed(3) } : {}),
    }));
  if (modes.includes('step')) line('step', sec);
  if (!modes.includes('with-sampler')) {
    trainer.dispose();
    model.dispose();
    return;
  }
  // 2. fed by the loader: sampling on a worker thread, overlapped with the step
  const s = samplerConfigOf(config);
  const loader = new PrefetchLoader<CimSample>({
    source: config.dataset, sampleModule: cimSampleModule, sampleExport: 'cimSample', sampleOptions: s,
    batchSize: B, seed: 0, workers: 1, prefetch: 2, dropLast: true,
  });
  for (let i = 0; i < warmup; i++) await trainer.trainStep([collate((await loader.next()).samples, s)]);
  let wait = 0;
  t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const w = performance.now();
    const b = await loader.next();
    wait += performance.now() - w;
    await trainer.trainStep([collate(b.samples, s)]);
  }
  sec = (performance.now() - t0) / 1000 / steps;
  line('with-sampler', sec, { dataWaitSecondsPerStep: +(wait / 1000 / steps).toFixed(3), imageSize });
  await loader.close();
  trainer.dispose();
  model.dispose();
  if (tf.memory().numTensors > 10) console.error(`warning: ${tf.memory().numTensors} tensors left`);
}

/** The kernel everything rests on: untransposed 2-D matmul, and with a transpose flag, for the ratio. */
async function benchMatmul(): Promise<void> {
  // a GPU gets a large product too; llvmpipe (the software adapter, ~1 GFLOP/s) only the small one
  const shapes = adapter?.kind === 'gpu' ? [[512, 512, 512], [4848, 512, 2048], [4096, 4096, 4096]] : adapter?.kind === 'software' ? [[512, 512, 512]] : [[512, 512, 512], [4848, 512, 2048]];
  for (const [m, k, n] of shapes) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    const bT = tf.transpose(b);
    // a read waits for the product (async: webgpu has no synchronous read in Node)
    const time = async (f: () => tf.Tensor) => {
      const w = f();
      await w.data();
      w.dispose();
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) {
        const c = f();
        await c.data();
        c.dispose();
      }
      return (performance.now() - t0) / 3000;
    };
    const plain = await time(() => tf.matMul(a, b));
    const flagged = await time(() => tf.matMul(a, bT, false, true));
    console.log(JSON.stringify({ bench: 'matmul', shape: [m, k, n], gflops: +((2 * m * k * n) / plain / 1e9).toFixed(1), transposeFlagGflops: +((2 * m * k * n) / flagged / 1e9).toFixed(1), ...where() }));
    tf.dispose([a, b, bT]);
  }
}

const all = [['cpu-small', 28], ['cpu-resnet', 28], ['bench-vit-tiny', 375], ['official-vit-base', 375]] as const;
const only = values.only === 'all' ? ['matmul', ...all.map(([p]) => p)] : (values.only?.split(',') ?? ['matmul', 'cpu-small', 'cpu-resnet', 'bench-vit-tiny']);
const unknown = only.filter((o) => o !== 'matmul' && !all.some(([p]) => p === o));
if (unknown.length) {
  console.error(`bench:train: unknown --only ${unknown.join(',')}; choose from matmul, ${all.map(([p]) => p).join(', ')}, all`);
  process.exit(2);
}
if (only.includes('matmul')) await benchMatmul();
for (const [preset, imageSize] of all) {
  if (only.includes(preset)) await bench(preset, imageSize);
}
process.exit(0);
