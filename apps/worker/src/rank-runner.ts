/**
 * One rank of one run, in its own process (spawned by the worker, so a CPU-bound step never
 * blocks the worker's BullMQ lock renewal and heartbeats, and a cancel is a kill). The story:
 * read the run and parse its config with the run contract → join the gang → one entry per run kind
 * (runPretrain, runFinetune, runEval) with the same engine as the CLI, checkpoints to S3 tracked in
 * Postgres, metrics to Postgres → exit with a code that says how it ended (rank-protocol.ts).
 *
 *   node --import tsx apps/worker/src/rank-runner.ts '<RankRunnerArgs JSON>'
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentWebGpuAdapter, initBackend, webGpuLabel, type BackendChoice } from '@cim-forge/cim';
import { CollectiveTimeoutError, joinCollective, NodeLocalError, RedisUnreachableError } from '@cim-forge/collective';
import {
  type EvalConfig,
  type FinetuneConfig,
  type FinetunePlan,
  type PretrainConfig,
  type RunPlan,
  type TrainPlan,
} from '@cim-forge/config';
import { createDb, recordEvent, toJsonValue, type Db, type RunEventData, type RunEventType } from '@cim-forge/db';
import {
  evaluateRobustness,
  finetune,
  loadClassifierFile,
  loadLabelledImages,
  NonFiniteLossError,
  pretrain,
  type Collective,
  type CorruptionName,
  type EngineEvent,
  type TrainFaults,
} from '@cim-forge/engine';
import { createS3Client, S3CheckpointStore } from '@cim-forge/storage';
import { EXIT, type ExitCategory, type RankMessage, type RankRunnerArgs } from './rank-protocol.ts';
import { readServiceEnv, runCheckpointPrefix } from './service-env.ts';
import { PostgresMetricsSink } from './postgres-metrics-sink.ts';
import { TrackedCheckpointStore } from './tracked-checkpoint-store.ts';
import { RunError } from './run-error.ts';
import { runConfig } from './stored-config.ts';
import { readSourceWeights } from './source-weights.ts';
import { localizeDatasets, type LocalizedConfig } from './team-datasets.ts';
import { HeldoutFigures } from './figures/heldout-figures.ts';
import { isOutOfMemory, outOfMemoryMessage } from './out-of-memory.ts';
import { processEnv, type FaultSettings } from '@cim-forge/settings';
import { setDefaultCacheDir } from '@cim-forge/data';

const send = (m: RankMessage) => process.send?.(m);

type StepMessage = Extract<RankMessage, { type: 'step' }>;

/** a training step, relayed to the rank worker (a kind without a gang's timings sends zeros) */
function sendStep(
  ctx: { started(): void },
  s: Pick<StepMessage, 'step' | 'totalSteps' | 'loss' | 'lr' | 'imagesPerSec'>,
  timings: Partial<Omit<StepMessage, 'type' | 'step' | 'totalSteps' | 'loss' | 'lr' | 'imagesPerSec'>> = {},
): void {
  ctx.started();
  const { step, totalSteps, loss, lr, imagesPerSec } = s;
  send({
    type: 'step',
    step,
    totalSteps,
    loss,
    lr,
    imagesPerSec,
    stepSeconds: 0,
    dataWaitSeconds: 0,
    allReduceSeconds: 0,
    allReduceBytes: 0,
    ...timings,
  });
}

/** the run's kind and its parsed config, one entry below each */
type RankJob =
  { kind: 'pretrain'; config: PretrainConfig } | { kind: 'finetune'; config: FinetuneConfig } | { kind: 'eval'; config: EvalConfig };

/** What every run kind's entry gets: the run, where its checkpoints and metrics go, the events. */
interface RankContext {
  args: RankRunnerArgs;
  db: Db;
  runId: string;
  store: TrackedCheckpointStore;
  collective: Collective | undefined;
  isRank0: boolean;
  shouldStop(): boolean;
  /** an event that cannot be recorded (Postgres away) must not take the rank down */
  event<T extends RunEventType>(type: T, message: string, data?: RunEventData[T]): Promise<void>;
  /** the first step ran: from now on a failure may be the platform's */
  started(): void;
  /** test-only faults for this run (CIM_FAULT_*, matched on the run's name); {} normally */
  faults: TrainFaults;
}

/**
 * The engine's hooks every training kind shares: the stop request, the log, the engine's events
 * (a checkpoint skipped on resume, with why), and once the plan is known (rank 0) the plan the
 * worker derived from the data replaces the API's, or a restart says where it resumed.
 */
function trainingHooks<P extends { totalSteps: number }>(ctx: RankContext, planOf: (plan: P) => RunPlan) {
  const { args, isRank0 } = ctx;
  return {
    shouldStop: ctx.shouldStop,
    log: (msg: string) => console.error(msg),
    onEvent: (e: EngineEvent) => {
      if (isRank0 && e.type === 'checkpoint.skipped') {
        const message = `attempt ${args.attempt} did not resume from checkpoint ${e.checkpoint}: ${e.reason}`;
        void ctx.event('checkpoint.skipped', message, { checkpoint: e.checkpoint, attempt: args.attempt });
      }
    },
    onPlan: ({ plan, startStep, resumedFrom }: { plan: P; startStep: number; resumedFrom?: string }) => {
      if (!isRank0) return;
      if (startStep === 0) {
        // best effort: the run goes on without it
        void ctx.db.run
          .update({ where: { id: ctx.runId }, data: { plan: toJsonValue(planOf(plan)) } })
          .catch((e: Error) => console.error(`could not record the plan: ${e.message}`));
      }
      if (resumedFrom) {
        const message = `attempt ${args.attempt} restarted from checkpoint ${resumedFrom} at step ${startStep} of ${plan.totalSteps}`;
        void ctx.event('run.resumed', message, { checkpoint: resumedFrom, step: startStep, attempt: args.attempt });
      }
    },
  };
}

/** pre-training: every rank of the gang, checkpoints and the run's metrics from rank 0 */
async function runPretrain(ctx: RankContext, config: PretrainConfig): Promise<number> {
  const { db, runId, args, isRank0 } = ctx;
  const { onEvent, onPlan, ...hooks } = trainingHooks<TrainPlan>(ctx, (plan) => ({
    effectiveBatch: plan.effectiveBatch,
    peakLr: plan.peakLr,
    epochs: config.epochs,
    warmupEpochs: config.warmupEpochs,
    trainImages: plan.stepsPerEpoch * plan.effectiveBatch,
    stepsPerEpoch: plan.stepsPerEpoch,
    totalSteps: plan.totalSteps,
    warmupSteps: Math.round(config.warmupEpochs * plan.stepsPerEpoch),
    derivedBy: 'worker',
  }));
  let totalSteps = 0;
  const r = await pretrain({
    config,
    store: ctx.store,
    collective: ctx.collective,
    resume: true,
    faults: ctx.faults,
    onEvent,
    metrics: isRank0 ? new PostgresMetricsSink({ db, runId, rank: null }) : undefined,
    rankMetrics: args.worldSize > 1 ? new PostgresMetricsSink({ db, runId, rank: args.rank }) : undefined,
    hooks: {
      ...hooks,
      onPlan: (info) => {
        totalSteps = info.plan.totalSteps;
        onPlan(info);
      },
      onStep: (s) =>
        sendStep(ctx, s, {
          momentum: s.momentum,
          stepSeconds: s.computeSeconds + s.allReduceSeconds + s.dataWaitSeconds,
          dataWaitSeconds: s.dataWaitSeconds,
          allReduceSeconds: s.allReduceSeconds,
          allReduceBytes: s.allReduceBytes,
        }),
    },
  });
  if (r.stopped) return EXIT.stopped;
  if (isRank0 && r.eval) {
    const e = r.eval;
    const sink = new PostgresMetricsSink({ db, runId, rank: null });
    await sink.write({
      step: totalSteps,
      'eval/iou': e.meanIoU,
      'eval/prior_iou': e.priorIoU,
      'eval/loss': e.loss,
      'eval/mismatched_loss': e.mismatchedLoss,
    });
    await sink.close();
    const message =
      `held-out IoU ${e.meanIoU.toFixed(3)} (centre prior ${e.priorIoU.toFixed(3)}), loss ` +
      `${e.loss.toFixed(3)} vs ${e.mismatchedLoss.toFixed(3)} with mismatched exemplars`;
    await recordEvent(db, runId, 'run.eval', message, { ...e });
  }
  return EXIT.ok;
}

/** fine-tuning: one rank, the encoder from the pinned source checkpoint's weights */
async function runFinetune(ctx: RankContext, stored: FinetuneConfig, weights: string): Promise<number> {
  const { db, runId } = ctx;
  const config: FinetuneConfig = { ...stored, initFrom: weights };
  const { onEvent, ...hooks } = trainingHooks<FinetunePlan>(ctx, (plan) => ({
    effectiveBatch: config.batchSize,
    peakLr: plan.peakLr,
    epochs: config.epochs,
    warmupEpochs: config.warmupEpochs,
    trainImages: plan.trainImages,
    stepsPerEpoch: plan.stepsPerEpoch,
    totalSteps: plan.totalSteps,
    warmupSteps: Math.round(config.warmupEpochs * plan.stepsPerEpoch),
    derivedBy: 'worker',
  }));
  const r = await finetune({
    config,
    store: ctx.store,
    metrics: new PostgresMetricsSink({ db, runId, rank: null }),
    resume: true,
    onEvent,
    hooks: {
      ...hooks,
      onStep: (s) => sendStep(ctx, s),
      onEval: (e) => void recordEvent(db, runId, 'run.eval', `epoch ${e.epoch}: held-out top-1 ${(100 * e.top1).toFixed(2)}%`, { ...e }),
    },
  });
  return r.stopped ? EXIT.stopped : EXIT.ok;
}

/** evaluation: one rank, the classifier of the pinned source checkpoint, clean and robust top-1 */
async function runEval(ctx: RankContext, cfg: EvalConfig, weights: string): Promise<number> {
  const { db, runId } = ctx;
  const model = await loadClassifierFile(weights);
  try {
    const side = model.config.imgSize;
    const data = await loadLabelledImages(
      cfg.images > 0 && cfg.dataset.kind === 'fashion-mnist' ? { ...cfg.dataset, limit: cfg.images } : cfg.dataset,
      side,
    );
    const report = await evaluateRobustness({
      forward: (x) => model.forward(x as Parameters<typeof model.forward>[0]),
      images: data.pixels,
      labels: data.labels,
      side,
      eps: cfg.eps,
      pgdSteps: cfg.pgdSteps,
      corruptions: cfg.corruptions as CorruptionName[],
      severities: cfg.severities,
      batchSize: cfg.batchSize,
      seed: cfg.seed,
    });
    const flat: Record<string, number> = { step: 0, clean_top1: report.clean.top1 };
    if (report.fgsm) flat.fgsm_top1 = report.fgsm.top1;
    if (report.pgd) flat.pgd_top1 = report.pgd.top1;
    if (report.mCE !== null) flat.mce = report.mCE;
    const sink = new PostgresMetricsSink({ db, runId, rank: null });
    await sink.write(flat);
    await sink.close();
    await recordEvent(db, runId, 'run.eval', `clean top-1 ${(100 * report.clean.top1).toFixed(2)}%`, JSON.parse(JSON.stringify(report)));
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}

async function main(): Promise<number> {
  const args = JSON.parse(process.argv[2] ?? '{}') as RankRunnerArgs;
  const env = readServiceEnv(processEnv(), 'worker');
  setDefaultCacheDir(env.cacheDir);
  const db = createDb(env.databaseUrl, { maxConnections: 3 });
  const s3 = createS3Client(env.s3);
  let stopRequested = false;
  process.on('SIGTERM', () => (stopRequested = true));
  process.on('SIGINT', () => (stopRequested = true));
  // the worker that spawned this rank is gone (kill -9, OOM): a rank nobody heartbeats must not
  // train on, or it would hold its gang's collective and write checkpoints for a stopped attempt
  process.on('disconnect', () => {
    console.error('the worker process is gone: exiting');
    process.exit(EXIT.infra);
  });
  const event = <T extends RunEventType>(type: T, message: string, data?: RunEventData[T]) =>
    recordEvent(db, args.runId, type, message, data).catch((e) =>
      console.error(`could not record ${type}: ${(e as Error).message.trim().split('\n').at(-1)}`),
    );
  let collective: Collective | undefined;
  let data: LocalizedConfig<object> | undefined;
  let started = false;
  const figures = new HeldoutFigures({ db, redisUrl: env.redisUrl, prefix: env.queuePrefix, log: (m) => console.error(m) });
  try {
    const run = await db.run.findUnique({
      where: { id: args.runId },
      include: { sourceCheckpoint: { include: { run: { select: { teamId: true } } } } },
    });
    if (!run) throw new RunError(`run ${args.runId} does not exist`);
    // image folders: only from the team's own data area (disk or S3), checked again here, on the
    // config the run contract parsed (the kind's schema, defaults filled)
    const localize = async <T extends object>(config: T): Promise<T> => {
      const localized = await localizeDatasets(config, {
        teamId: run.teamId,
        dataRoot: env.dataRoot,
        dataCache: env.dataCache,
        dataMaxBytes: env.dataMaxBytes,
        s3: { client: s3, bucket: env.s3Bucket },
      });
      data = localized;
      return localized.config;
    };
    // before the gang meets: fetching an S3 image folder must not count against the collective's timeout
    const job: RankJob =
      run.kind === 'pretrain'
        ? { kind: 'pretrain', config: await localize(runConfig('pretrain', run.config)) }
        : run.kind === 'finetune'
          ? { kind: 'finetune', config: await localize(runConfig('finetune', run.config)) }
          : { kind: 'eval', config: await localize(runConfig('eval', run.config)) };
    const backend = await initBackend(env.backend as BackendChoice, undefined, { threads: env.threads, webgpuAdapter: env.webgpuAdapter });
    collective =
      args.worldSize > 1
        ? await joinCollective({
            redisUrls: env.collectiveRedisUrls,
            nodeName: env.nodeName,
            socketDir: env.collectiveSocketDir,
            shmDir: env.collectiveShmDir,
            wire: env.collectiveWire,
            transport: env.collectiveTransport,
            glooHost: env.glooHost,
            keyPrefix: `${env.queuePrefix}:collective`,
            runId: `${args.runId}:${args.attempt}`,
            rank: args.rank,
            worldSize: args.worldSize,
            timeoutMs: env.collectiveTimeoutMs,
            rendezvousTimeoutMs: env.rendezvousTimeoutMs,
          })
        : undefined;
    const adapter = backend.name === 'webgpu' ? currentWebGpuAdapter() : undefined;
    send({ type: 'joined', backend: adapter ? webGpuLabel(adapter) : backend.name });
    const store = new TrackedCheckpointStore({
      db,
      runId: run.id,
      s3: new S3CheckpointStore({ client: s3, bucket: env.s3Bucket, prefix: runCheckpointPrefix(run.id) }),
      onComplete: async (c) => {
        send({ type: 'checkpoint', id: c.id, step: c.step, bytes: c.bytes, seconds: c.seconds });
        await recordEvent(
          db,
          run.id,
          'checkpoint.complete',
          `checkpoint ${c.id} at step ${c.step} is COMPLETE (${c.bytes} bytes in ${c.seconds.toFixed(2)} s)`,
          { checkpointId: c.rowId, step: c.step },
        );
        // a pre-training's correlation maps on a held-out image, drawn by a worker (never fails the rank)
        if (run.kind === 'pretrain') await figures.request(run.id, c.rowId, c.step);
      },
    });
    const ctx: RankContext = {
      args,
      db,
      runId: run.id,
      store,
      collective,
      isRank0: args.rank === 0,
      event,
      shouldStop: () => stopRequested,
      started: () => (started = true),
      faults: runFaults(env.faults, run.name),
    };
    if (job.kind === 'pretrain') return await runPretrain(ctx, job.config);

    // fine-tune and eval: one rank, weights from the pinned source checkpoint
    if (!run.sourceCheckpoint) throw new RunError(`${run.kind} run ${run.id} has no source checkpoint`);
    const dir = await mkdtemp(join(tmpdir(), 'cim-source-'));
    try {
      const weights = join(dir, 'model.safetensors');
      const source = {
        uri: run.sourceCheckpoint.uri,
        runId: run.sourceCheckpoint.runId,
        runTeamId: run.sourceCheckpoint.run?.teamId ?? null,
      };
      await writeFile(weights, await readSourceWeights({ client: s3, bucket: env.s3Bucket, teamId: run.teamId }, source));
      return job.kind === 'finetune' ? await runFinetune(ctx, job.config, weights) : await runEval(ctx, job.config, weights);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } catch (e) {
    const err = e as Error;
    const category = categorize(err, started);
    if (err instanceof CollectiveTimeoutError && !err.operation.startsWith('rendezvous') && err.missingRanks.length > 0) {
      // a peer stopped contributing (dead, SIGSTOPped, cut off): name it in the run's log
      await event(
        'rank.lost',
        `${err.missingRanks.length === 1 ? 'rank' : 'ranks'} ${err.missingRanks.join(', ')} lost: rank ` +
          `${args.rank} waited ${err.timeoutMs / 1000} s for ${err.missingRanks.length === 1 ? 'it' : 'them'} ` +
          `in ${err.operation} (attempt ${args.attempt})`,
        { attempt: args.attempt, missingRanks: [...err.missingRanks], operation: err.operation, reporter: args.rank },
      );
    } else if (err instanceof NodeLocalError && err.lostRanks.length > 0) {
      // a rank on this node (or its leader) died: its socket closed at once
      await event('rank.lost', `rank ${err.lostRanks.join(', ')} lost: ${err.message} (attempt ${args.attempt})`, {
        attempt: args.attempt,
        missingRanks: [...err.lostRanks],
        operation: 'node-local',
        reporter: args.rank,
      });
    }
    send({ type: 'failed', category, message: isOutOfMemory(err) ? outOfMemoryMessage(err.message) : err.message });
    console.error(err.stack ?? err.message);
    return EXIT[category];
  } finally {
    await collective?.close().catch(() => {});
    await data?.cleanup().catch(() => {});
    await figures.close();
    s3.destroy();
    await db.$disconnect().catch(() => {});
  }
}

/** the test-only faults (CIM_FAULT_*, refused in production) that name this run */
function runFaults(f: FaultSettings, runName: string | null): TrainFaults {
  if (f.nonFiniteLoss && runName === f.nonFiniteLoss.runName) {
    console.error(`fault injection: the loss is NaN once ${f.nonFiniteLoss.step} steps are done (CIM_FAULT_NON_FINITE_LOSS)`);
    return { nonFiniteLossFromStep: f.nonFiniteLoss.step };
  }
  return {};
}

function categorize(e: Error, started: boolean): ExitCategory {
  if (e instanceof CollectiveTimeoutError) return e.operation.startsWith('rendezvous') ? 'rendezvous' : 'infra';
  if (e instanceof RedisUnreachableError || e instanceof NodeLocalError) return 'infra';
  if (e instanceof RunError || e instanceof NonFiniteLossError) return 'user';
  // the config asks for more memory than the worker has: retrying on another worker won't help
  if (isOutOfMemory(e)) return 'user';
  // before the first step nothing but the run's own config and data can be at fault, unless it
  // is a network error talking to our services
  // (Prisma P1001/P1002/P1008/P1017: the database server cannot be reached, timed out or closed the connection)
  const network = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket|Connection terminated|Can't reach database|P100[128]|P1017/i.test(
    `${e.message} ${(e as { code?: string }).code ?? ''}`,
  );
  return !started && !network ? 'user' : 'infra';
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(EXIT.infra);
  },
);
