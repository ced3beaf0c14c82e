/**
 * The run scaffold: what every training run does around its step, written once. Resume from the
 * store's newest usable checkpoint (skipping, and reporting, the ones that fail to load), then
 * step until the run's total, `stopAtStep` or `maxSteps`, with the stop vote at every step boundary, metrics
 * written by rank 0 (and each rank's own timings), a checkpoint every `checkpointEvery` steps and
 * at the end, and retention after each checkpoint. Pre-training and fine-tuning bring only their
 * model, data and step (`RunSteps`).
 */
import type { CheckpointManifest, CheckpointStore } from './checkpoint-store.ts';
import { soloCollective, type Collective } from './collective.ts';
import { lossSummary, type LossSummary, type RunOutcome } from './loss-summary.ts';
import { nullMetricsSink, type MetricsSink } from './metrics-sink.ts';
import { applyRetention, type RetentionPolicy } from './retention.ts';

/** What the engine reports as it goes (typed: nobody parses the log lines). */
export type EngineEvent =
  { type: 'checkpoint.skipped'; checkpoint: string; reason: string } | { type: 'checkpoint.resumed'; checkpoint: string; step: number };

export type MetricsRecord = Record<string, number | string | null>;

/** One optimizer step's outcome, as the run kind reports it to the scaffold. */
export interface StepOutcome {
  loss: number;
  /** every rank saw a stop vote with this step: the gang stops at this boundary */
  stop: boolean;
  /** the run's rows for this step (written by rank 0, in order) */
  metrics: MetricsRecord[];
  /** this rank's own row (written by every rank) */
  rankMetrics?: MetricsRecord;
  /** the kind's progress hooks, called once the rows are written */
  report?(): void;
}

/** A run kind's part: its step, and how its state goes into a checkpoint and back. */
export interface RunSteps {
  readonly totalSteps: number;
  /** optimizer steps taken so far in the run (across resumes) */
  step(): number;
  /** load checkpoint `id` (throws when it is unusable); returns the step it resumes at */
  restore(store: CheckpointStore, id: string): Promise<number>;
  /** after the resume, before the first step: start the data, announce the plan */
  begin(resumedFrom: string | undefined): Promise<void>;
  /** one optimizer step; `vote`: this rank asks to stop (it rides along with the gradients) */
  advance(vote: boolean): Promise<StepOutcome>;
  save(store: CheckpointStore, last: { loss: number }): Promise<CheckpointManifest>;
}

export interface RunScaffoldOptions {
  store?: CheckpointStore;
  /** the run's authoritative metrics, written by rank 0 */
  metrics?: MetricsSink;
  /** this rank's own step timings (every rank) */
  rankMetrics?: MetricsSink;
  collective?: Collective;
  /** resume from the store's newest usable checkpoint, if any */
  resume?: boolean;
  /** stop after this many optimizer steps in this invocation */
  maxSteps?: number;
  /**
   * end this invocation after this optimizer step of the run (a sweep's rung), with a checkpoint;
   * the schedules stay those of the whole run, and a resume with a larger value (or none) goes on
   */
  stopAtStep?: number | null;
  /** optimizer steps between checkpoints (0 = only at the end) */
  checkpointEvery: number;
  retention: RetentionPolicy;
  log?(msg: string): void;
  onEvent?(e: EngineEvent): void;
  /** checked at every step boundary: true = checkpoint now and return */
  shouldStop?(): boolean;
  onCheckpoint?(id: string, step: number): void;
}

/** The hooks every run kind takes for the scaffold: its log, the stop vote and the checkpoint callback. */
export interface ScaffoldHooks {
  onCheckpoint?(id: string, step: number): void;
  log?(msg: string): void;
  /** checked at every step boundary: true = checkpoint now and return */
  shouldStop?(): boolean;
}

type PassedOn = 'store' | 'metrics' | 'resume' | 'maxSteps' | 'onEvent';
type HookedOn = 'shouldStop' | 'onCheckpoint';

/** What every run kind hands the scaffold as it got it: its store, sink, resume and step limit, events, stop vote and checkpoint hook. */
export function passedOn(
  o: Pick<RunScaffoldOptions, PassedOn>,
  hooks: Pick<RunScaffoldOptions, HookedOn>,
): Pick<RunScaffoldOptions, PassedOn | HookedOn> {
  return {
    store: o.store,
    metrics: o.metrics,
    resume: o.resume,
    maxSteps: o.maxSteps,
    onEvent: o.onEvent,
    shouldStop: hooks.shouldStop,
    onCheckpoint: hooks.onCheckpoint,
  };
}

export interface RunScaffoldResult extends LossSummary {
  /** steps taken in this invocation */
  steps: number;
  stopped: boolean;
  /** seconds from the first step to the last checkpoint */
  seconds: number;
  lastCheckpoint?: string;
  resumedFrom?: string;
}

/**
 * Restore the newest checkpoint of `store` that loads, newest first; each one that fails is
 * logged and reported as `checkpoint.skipped`. Undefined for an empty store; throws when the
 * store holds checkpoints and none loads.
 */
export async function resumeFromNewest(
  store: CheckpointStore,
  restore: (id: string) => Promise<number>,
  report: { log?(msg: string): void; onEvent?(e: EngineEvent): void } = {},
): Promise<{ id: string; step: number } | undefined> {
  const list = await store.list();
  for (let i = list.length - 1; i >= 0; i--) {
    const id = list[i].id;
    try {
      const step = await restore(id);
      report.onEvent?.({ type: 'checkpoint.resumed', checkpoint: id, step });
      return { id, step };
    } catch (e) {
      const reason = (e as Error).message;
      report.log?.(`checkpoint ${id} unusable (${reason}); trying an older one`);
      report.onEvent?.({ type: 'checkpoint.skipped', checkpoint: id, reason });
    }
  }
  if (list.length > 0) throw new Error(`no usable checkpoint in ${store.location}`);
  return undefined;
}

/** the fields every engine run reports, from the scaffold's result: `imagesPerStep` images made each optimizer step */
export function runOutcome(
  run: RunScaffoldResult,
  at: { finalStep: number; totalSteps: number; imagesPerStep: number },
): Omit<RunOutcome, 'weightsDigest'> {
  return {
    steps: run.steps,
    finalStep: at.finalStep,
    totalSteps: at.totalSteps,
    stopped: run.stopped,
    firstLoss: run.firstLoss,
    lastLoss: run.lastLoss,
    earlyLoss: run.earlyLoss,
    lateLoss: run.lateLoss,
    seconds: run.seconds,
    imagesPerSec: (run.steps * at.imagesPerStep) / Math.max(run.seconds, 1e-9),
    lastCheckpoint: run.lastCheckpoint,
  };
}

export async function runScaffold(run: RunSteps, o: RunScaffoldOptions): Promise<RunScaffoldResult> {
  const collective = o.collective ?? soloCollective;
  const metrics = o.metrics ?? nullMetricsSink;
  const rankMetrics = o.rankMetrics ?? nullMetricsSink;
  const isRank0 = collective.rank === 0;
  try {
    const store = o.store;
    const resumed = o.resume && store ? await resumeFromNewest(store, (id) => run.restore(store, id), o) : undefined;
    await run.begin(resumed?.id);

    const losses: number[] = [];
    const scores = new Map<string, number>();
    let stopped = false;
    let lastCheckpoint: string | undefined;
    const t0 = performance.now();
    const startStep = run.step();
    // the last step of this invocation's stretch (a sweep's rung, or the run's end)
    const end = Math.min(run.totalSteps, o.stopAtStep ?? Infinity);
    // only rank 0 writes; the newest K and the best M stay (a pinned one the store keeps)
    const checkpoint = async () => {
      if (!store || !isRank0) return;
      const m = await run.save(store, { loss: losses.at(-1) ?? NaN });
      lastCheckpoint = m.id;
      o.onCheckpoint?.(m.id, run.step());
      await applyRetention(store, o.retention, scores);
    };

    while (run.step() < end && (o.maxSteps === undefined || run.step() - startStep < o.maxSteps)) {
      const vote = o.shouldStop?.() ?? false;
      if (vote && collective.worldSize === 1) {
        stopped = true;
        break;
      }
      const r = await run.advance(vote);
      losses.push(r.loss);
      if (isRank0) for (const row of r.metrics) await metrics.write(row);
      if (r.rankMetrics) await rankMetrics.write(r.rankMetrics);
      r.report?.();
      if (r.stop) {
        // a rank asked to stop: every rank saw the same vote, so the gang stops at this boundary
        stopped = true;
        break;
      }
      const step = run.step();
      if (o.checkpointEvery > 0 && step % o.checkpointEvery === 0 && step < end) await checkpoint();
    }
    // resumed at or past its stopAtStep: nothing new to save, the checkpoint resumed from is the last
    if (resumed && run.step() === startStep && !stopped) lastCheckpoint = resumed.id;
    else await checkpoint();
    // a stopped gang leaves together, after rank 0's checkpoint is COMPLETE: a rank that left
    // first would end its attempt and could get rank 0 killed mid-write
    if (stopped && collective.worldSize > 1) await collective.barrier();
    return {
      steps: run.step() - startStep,
      stopped,
      ...lossSummary(losses),
      seconds: (performance.now() - t0) / 1000,
      lastCheckpoint,
      resumedFrom: resumed?.id,
    };
  } finally {
    await metrics.close();
    await rankMetrics.close();
  }
}
