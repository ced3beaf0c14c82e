import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { catalogue, type RankFailureReason } from './catalogue.ts';
import { counterOf, gaugeOf, histogramOf } from './registry.ts';

type RankLabel = 'run_id' | 'rank' | 'team';

export interface RankIdentity {
  run_id: string;
  rank: number;
  team: string;
}

export interface StepSample {
  /** wall time of the whole step, s */
  seconds: number;
  /** images this rank trained in the step (its local batch) */
  images: number;
  loss: number;
  lr: number;
  targetMomentum: number;
}

/** One rank's metrics, labels bound once. */
export interface RankMetrics {
  readonly labels: Readonly<Record<RankLabel, string>>;
  step(s: StepSample): void;
  /** one all-reduce: seconds spent, bytes sent + received */
  allreduce(seconds: number, bytes: number): void;
  dataWait(seconds: number): void;
  /** unix time in seconds; default now */
  heartbeat(unixSeconds?: number): void;
  /** rank 0 only: one checkpoint written */
  checkpoint(seconds: number, bytes: number): void;
  failure(reason: RankFailureReason): void;
}

export interface WorkerMetrics {
  info: Gauge<'worker' | 'backend'>;
  busy: Gauge<'worker'>;
  steps: Counter<RankLabel>;
  stepSeconds: Histogram<RankLabel>;
  imagesPerSecond: Gauge<RankLabel>;
  loss: Gauge<RankLabel>;
  lr: Gauge<RankLabel>;
  targetMomentum: Gauge<RankLabel>;
  allreduceSeconds: Counter<RankLabel>;
  allreduceBytes: Counter<RankLabel>;
  dataWaitSeconds: Counter<RankLabel>;
  heartbeat: Gauge<RankLabel>;
  failures: Counter<RankLabel | 'reason'>;
  checkpointWriteSeconds: Histogram<'run_id' | 'team'>;
  checkpointBytes: Counter<'run_id' | 'team'>;
  setBusy(busy: boolean): void;
  /** the handle for one rank of one run; the same object for the same identity */
  rank(id: RankIdentity): RankMetrics;
  /** removes every series labelled with this run_id, so a pod's cardinality stays bounded */
  forgetRun(run_id: string): void;
}

export interface WorkerMetricsOptions {
  /** the pod or process name (WORKER_ID) */
  worker: string;
  /** tensorflow | wasm | cpu */
  backend: string;
}

export function workerMetrics(registry: Registry, opts: WorkerMetricsOptions): WorkerMetrics {
  const c = catalogue;
  const info = gaugeOf(registry, c.workerInfo);
  const busy = gaugeOf(registry, c.workerBusy);
  const steps = counterOf(registry, c.rankSteps);
  const stepSeconds = histogramOf(registry, c.rankStepSeconds);
  const imagesPerSecond = gaugeOf(registry, c.rankImagesPerSecond);
  const loss = gaugeOf(registry, c.rankLoss);
  const lr = gaugeOf(registry, c.rankLr);
  const targetMomentum = gaugeOf(registry, c.rankTargetMomentum);
  const allreduceSeconds = counterOf(registry, c.rankAllreduceSeconds);
  const allreduceBytes = counterOf(registry, c.rankAllreduceBytes);
  const dataWaitSeconds = counterOf(registry, c.rankDataWaitSeconds);
  const heartbeat = gaugeOf(registry, c.rankHeartbeat);
  const failures = counterOf(registry, c.rankFailures);
  const checkpointWriteSeconds = histogramOf(registry, c.checkpointWriteSeconds);
  const checkpointBytes = counterOf(registry, c.checkpointBytes);

  info.set({ worker: opts.worker, backend: opts.backend }, 1);
  busy.set({ worker: opts.worker }, 0);

  /** the series labelled by run and rank (forgetRun removes them) */
  const rankSeries = {
    steps,
    stepSeconds,
    imagesPerSecond,
    loss,
    lr,
    targetMomentum,
    allreduceSeconds,
    allreduceBytes,
    dataWaitSeconds,
    heartbeat,
  };
  const perRank = Object.values(rankSeries);
  /** run_id → rank handles and the failure reasons seen, for forgetRun */
  const runs = new Map<string, { ranks: Map<number, RankMetrics>; reasons: Set<string> }>();

  function rank(id: RankIdentity): RankMetrics {
    const run = runs.get(id.run_id) ?? { ranks: new Map<number, RankMetrics>(), reasons: new Set<string>() };
    runs.set(id.run_id, run);
    const existing = run.ranks.get(id.rank);
    if (existing) return existing;
    const labels = { run_id: id.run_id, rank: String(id.rank), team: id.team };
    const runLabels = { run_id: id.run_id, team: id.team };
    const handle: RankMetrics = {
      labels,
      step(s) {
        steps.inc(labels);
        stepSeconds.observe(labels, s.seconds);
        if (s.seconds > 0) imagesPerSecond.set(labels, s.images / s.seconds);
        loss.set(labels, s.loss);
        lr.set(labels, s.lr);
        targetMomentum.set(labels, s.targetMomentum);
      },
      allreduce(seconds, bytes) {
        allreduceSeconds.inc(labels, seconds);
        allreduceBytes.inc(labels, bytes);
      },
      dataWait(seconds) {
        dataWaitSeconds.inc(labels, seconds);
      },
      heartbeat(unixSeconds = Date.now() / 1000) {
        heartbeat.set(labels, unixSeconds);
      },
      checkpoint(seconds, bytes) {
        checkpointWriteSeconds.observe(runLabels, seconds);
        checkpointBytes.inc(runLabels, bytes);
      },
      failure(reason) {
        failures.inc({ ...labels, reason });
        run.reasons.add(reason);
      },
    };
    run.ranks.set(id.rank, handle);
    return handle;
  }

  function forgetRun(run_id: string): void {
    const run = runs.get(run_id);
    if (!run) return;
    const teams = new Set<string>();
    for (const h of run.ranks.values()) {
      teams.add(h.labels.team);
      for (const m of perRank) m.remove(h.labels);
      for (const reason of run.reasons) failures.remove({ ...h.labels, reason });
    }
    for (const team of teams) {
      checkpointWriteSeconds.remove({ run_id, team });
      checkpointBytes.remove({ run_id, team });
    }
    runs.delete(run_id);
  }

  return {
    info,
    busy,
    ...rankSeries,
    failures,
    checkpointWriteSeconds,
    checkpointBytes,
    setBusy: (b) => busy.set({ worker: opts.worker }, b ? 1 : 0),
    rank,
    forgetRun,
  };
}
