/**
 * Pre-training, one readable function: build the model and data, then one optimizer step at a
 * time on the run scaffold (run-scaffold.ts: resume, stop vote, metrics, checkpoints and
 * retention). I/O arrives as interfaces (checkpoint store, metrics sink, collective) so the CLI
 * and the worker run this same loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { collate, createCimModel, type CimBatch, type CimModel, type CimSample } from '@cim-forge/cim';
import { PrefetchLoader, type PrefetchLoaderOptions, type SourceSpec } from '@cim-forge/data';
import { readFile } from 'node:fs/promises';
import { cimSampleModule } from './cim-sample.ts';
import { deriveTrainPlan, samplerConfigOf, type PretrainConfig, type TrainPlan } from '@cim-forge/config';
import { CimTrainer, type StepResult, type TrainFaults } from './trainer.ts';
import { loadCheckpoint, loadModelSafetensors, modelToSafetensors, saveCheckpoint } from './checkpoint.ts';
import { sha256, type CheckpointStore } from './checkpoint-store.ts';
import type { MetricsSink } from './metrics-sink.ts';
import { soloCollective, type Collective } from './collective.ts';
import { evaluateIoU, type IoUReport } from './evaluate.ts';
import { fitCentrePrior } from './centre-prior.ts';
import { passedOn, runOutcome, runScaffold, type ScaffoldHooks, type EngineEvent, type RunSteps } from './run-scaffold.ts';
import type { RunOutcome } from './loss-summary.ts';

export interface PretrainHooks extends ScaffoldHooks {
  /** printed once before the first step */
  onPlan?(info: { config: PretrainConfig; plan: TrainPlan; resumedFrom?: string; startStep: number; params: number }): void;
  onStep?(r: StepResult & { epoch: number; imagesPerSec: number; dataWaitSeconds: number; totalSteps: number }): void;
}

export interface PretrainOptions {
  config: PretrainConfig;
  store?: CheckpointStore;
  /** the run's authoritative metrics, written by rank 0 */
  metrics?: MetricsSink;
  /** this rank's own step timings (every rank): step, all-reduce seconds and bytes */
  rankMetrics?: MetricsSink;
  collective?: Collective;
  /** resume from the store's newest usable checkpoint, if any */
  resume?: boolean;
  hooks?: PretrainHooks;
  /** a checkpoint skipped on resume, the one resumed from */
  onEvent?: (e: EngineEvent) => void;
  /** stop after this many optimizer steps in this invocation (tests, benchmarks) */
  maxSteps?: number;
  /** test-only fault injection (the chaos suite's non-finite loss) */
  faults?: TrainFaults;
}

export interface PretrainResult extends RunOutcome {
  eval?: IoUReport;
  rank: number;
  worldSize: number;
}

export function evalSourceSpec(d: SourceSpec, images: number): SourceSpec {
  if (d.kind === 'fashion-mnist') return { kind: 'fashion-mnist', split: 'test', limit: images };
  if (d.kind === 'synthetic') return { ...d, seed: (d.seed ?? 0) + 1_000_003, size: images };
  return d; // an image folder: the same images under a different seed (no held-out split known)
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const { config } = o;
  const hooks = o.hooks ?? {};
  const collective = o.collective ?? soloCollective;
  const log = hooks.log ?? (() => {});
  const samplerCfg = samplerConfigOf(config);

  const model = createCimModel(config.model, config.modelOverrides, config.seed);
  if (config.initFrom) {
    const r = loadModelSafetensors(model, new Uint8Array(await readFile(config.initFrom)), config.initFrom);
    log(`initialised from ${config.initFrom} (${r.loaded} tensors${r.decoder ? '' : ', encoder only'})`);
  }
  // the data's size fixes the plan (a probe loader reads it; the real one starts where a resume says)
  const probe = new PrefetchLoader<CimSample>({ ...loaderOptions(config, collective), workers: 0 });
  const info = await probe.ready();
  await probe.close();
  const plan = deriveTrainPlan(config, info.shardSize, collective.worldSize);
  const trainer = new CimTrainer(model, config, plan, collective, o.faults);
  let data = { epoch: 0, cursor: 0 };
  let epoch = 0;
  let loader: PrefetchLoader<CimSample> | undefined;
  const isRank0 = collective.rank === 0;
  const steps: RunSteps = {
    totalSteps: plan.totalSteps,
    step: () => trainer.step,
    restore: async (store, id) => {
      data = (await loadCheckpoint(store, id, trainer)).data;
      return trainer.step;
    },
    begin: async (resumedFrom) => {
      if (collective.worldSize > 1 && !resumedFrom) {
        // every rank starts from rank 0's weights (a resumed gang loads one checkpoint instead)
        const bytes = await collective.broadcast(isRank0 ? await modelToSafetensors(model) : new Uint8Array(0));
        if (!isRank0) loadModelSafetensors(model, bytes, 'rank 0 broadcast');
      }
      loader = new PrefetchLoader<CimSample>({ ...loaderOptions(config, collective), startEpoch: data.epoch, startCursor: data.cursor });
      epoch = data.epoch;
      const params = model.specs.filter((s) => s.trainable).reduce((a, s) => a + s.torchShape.reduce((x, y) => x * y, 1), 0);
      hooks.onPlan?.({ config, plan, resumedFrom, startStep: trainer.step, params });
    },
    advance: async (vote) => {
      const s0 = performance.now();
      const micro: CimBatch[] = [];
      let wait = 0;
      for (let i = 0; i < config.accumIter; i++) {
        const w0 = performance.now();
        const b = await loader!.next();
        wait += performance.now() - w0;
        epoch = b.epoch;
        micro.push(collate(b.samples, samplerCfg));
      }
      const r = await trainer.trainStep(micro, vote);
      const seconds = (performance.now() - s0) / 1000;
      const imagesPerSec = (config.batchSize * config.accumIter * collective.worldSize) / seconds;
      return {
        loss: r.loss,
        stop: r.stop,
        metrics: [
          {
            step: r.step,
            epoch,
            loss: r.loss,
            lr: r.lr,
            momentum: r.momentum,
            grad_norm: r.gradNorm,
            images_per_sec: imagesPerSec,
            step_seconds: seconds,
            data_wait_seconds: wait / 1000,
            allreduce_seconds: r.allReduceSeconds,
            time: Date.now() / 1000,
          },
        ],
        rankMetrics: {
          step: r.step,
          rank: collective.rank,
          step_seconds: seconds,
          compute_seconds: r.computeSeconds,
          allreduce_seconds: r.allReduceSeconds,
          allreduce_bytes: r.allReduceBytes,
          data_wait_seconds: wait / 1000,
        },
        report: () => hooks.onStep?.({ ...r, epoch, imagesPerSec, dataWaitSeconds: wait / 1000, totalSteps: plan.totalSteps }),
      };
    },
    save: (store, last) =>
      saveCheckpoint(store, trainer, {
        data: loader!.state(),
        rng: { seed: config.seed, scheme: 'sample seed = hash(seed, epoch, position in the epoch permutation)' },
        config,
        plan,
        metrics: { loss: last.loss },
        backend: tf.getBackend(),
      }),
  };

  try {
    const run = await runScaffold(steps, {
      ...passedOn(o, hooks),
      rankMetrics: o.rankMetrics,
      collective,
      stopAtStep: config.stopAtStep,
      checkpointEvery: config.checkpointEvery,
      // the newest K and the best M (lowest loss at their step)
      retention: { keepLatest: config.keepCheckpoints, keepBest: config.keepBest ?? 1, metric: 'loss', better: 'lower' },
      log,
    });
    const result: PretrainResult = {
      ...runOutcome(run, { finalStep: trainer.step, totalSteps: plan.totalSteps, imagesPerStep: plan.effectiveBatch }),
      rank: collective.rank,
      worldSize: collective.worldSize,
      weightsDigest: sha256(await modelToSafetensors(model)),
    };
    if (!run.stopped && isRank0 && config.evalImages > 0 && trainer.step >= plan.totalSteps) {
      result.eval = await evaluateOn(model, config, evalSourceSpec(config.dataset, config.evalImages));
    }
    return result;
  } finally {
    await loader?.close();
    trainer.dispose();
    model.dispose();
  }
}

function loaderOptions(config: PretrainConfig, collective: Collective): PrefetchLoaderOptions {
  return {
    source: config.dataset,
    sampleModule: cimSampleModule,
    sampleExport: 'cimSample',
    sampleOptions: samplerConfigOf(config),
    batchSize: config.batchSize,
    seed: config.seed,
    rank: collective.rank,
    worldSize: collective.worldSize,
    workers: config.workers,
    prefetch: config.prefetch,
    dropLast: true,
  };
}

/** `images` training images for the centre prior (the held-out split's counterpart of evalSourceSpec). */
export function priorSourceSpec(d: SourceSpec, images: number): SourceSpec {
  if (d.kind === 'fashion-mnist') return { kind: 'fashion-mnist', split: 'train', limit: images };
  if (d.kind === 'synthetic') return { ...d, size: images };
  return { ...d, limit: images };
}

/** every batch of one epoch of `spec`, sampled as pre-training samples (inline, seeded): the held-out and prior sets */
export async function sampleBatches(config: PretrainConfig, spec: SourceSpec, batchSize: number, seed: number): Promise<CimBatch[]> {
  const samplerCfg = samplerConfigOf(config);
  const loader = new PrefetchLoader<CimSample>({
    source: spec,
    sampleModule: cimSampleModule,
    sampleExport: 'cimSample',
    sampleOptions: samplerCfg,
    batchSize,
    seed,
    workers: 0,
    prefetch: 1,
  });
  try {
    const info = await loader.ready();
    const batches: CimBatch[] = [];
    for (let i = 0; i < info.batchesPerEpoch; i++) batches.push(collate((await loader.next()).samples, samplerCfg));
    return batches;
  } finally {
    await loader.close();
  }
}

/**
 * IoU of the model's maps on `spec`'s images, sampled with a fixed seed, beside the centre prior's
 * (fitted on as many of the training images, `priorSpec`, as there are held-out ones).
 */
export async function evaluateOn(
  model: CimModel,
  config: PretrainConfig,
  spec: SourceSpec,
  batchSize = 32,
  priorSpec?: SourceSpec,
): Promise<IoUReport> {
  const batches = await sampleBatches(config, spec, batchSize, 12345);
  const images = batches.reduce((a, b) => a + b.batchSize, 0);
  const priorBatches = await sampleBatches(config, priorSpec ?? priorSourceSpec(config.dataset, Math.max(images, 64)), batchSize, 777);
  return evaluateIoU(model, batches, fitCentrePrior(priorBatches), priorBatches);
}
