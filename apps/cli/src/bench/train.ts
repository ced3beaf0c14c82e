/**
 * Training-step throughput: `npm run bench:train [-- --steps N --only bench-vit-tiny|cpu-small|cpu-resnet]`.
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

const PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC = 1.5;

const { values } = parseArgs({ options: { steps: { type: 'string' }, only: { type: 'string' }, warmup: { type: 'string' } } });
const steps = Number(values.steps ?? 3);
const warmup = Number(values.warmup ?? 2);
const backend = await initBackend('auto');

async function bench(preset: string, imageSize: number): Promise<void> {
  const config: PretrainConfig = resolvePretrainConfig(preset, { dataset: { kind: 'synthetic', size: 4096, imageSize, seed: 0 }, workers: 1, warmupEpochs: 0 });
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
      secondsPerStep: +s.toFixed(3), imagesPerSec: +(B / s).toFixed(3), backend: backend.name, ...extra,
      ...(preset === 'bench-vit-tiny' ? { pytorchImagesPerSec: PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC, ratioToPytorch: +((B / s) / PYTORCH_BENCH_VIT_TINY_IMAGES_PER_SEC).toFixed(3) } : {}),
    }));
  line('step', sec);
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
function benchMatmul(): void {
  for (const [m, k, n] of [[512, 512, 512], [4848, 512, 2048]]) {
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    const bT = tf.transpose(b);
    const time = (f: () => tf.Tensor) => {
      f().dispose();
      const t0 = performance.now();
      for (let i = 0; i < 3; i++) {
        const c = f();
        c.dataSync();
        c.dispose();
      }
      return (performance.now() - t0) / 3000;
    };
    const plain = time(() => tf.matMul(a, b));
    const flagged = time(() => tf.matMul(a, bT, false, true));
    console.log(JSON.stringify({ bench: 'matmul', shape: [m, k, n], gflops: +((2 * m * k * n) / plain / 1e9).toFixed(1), transposeFlagGflops: +((2 * m * k * n) / flagged / 1e9).toFixed(1), backend: backend.name }));
    tf.dispose([a, b, bT]);
  }
}

if (!values.only || values.only === 'matmul') benchMatmul();
for (const [preset, imageSize] of [['cpu-small', 28], ['cpu-resnet', 28], ['bench-vit-tiny', 375]] as const) {
  if (!values.only || values.only === preset) await bench(preset, imageSize);
}
process.exit(0);
