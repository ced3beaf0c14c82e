import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { catalogue, type RestartCause } from './catalogue.ts';
import { counterOf, gaugeOf, histogramOf } from './registry.ts';

export interface RunCount {
  status: string;
  team: string;
  count: number;
}
export interface QueueCount {
  queue: string;
  state: string;
  count: number;
}

export interface TeamCount {
  team: string;
  count: number;
}

export interface ControllerMetricsOptions {
  /** read at every scrape: RUNNING sweeps and their live trials by team (issue 22) */
  collectSweeps?: () => Promise<{ active: readonly TeamCount[]; liveTrials: readonly TeamCount[] }>;
  /** read at every scrape: run counts grouped by status and team (one SQL GROUP BY) */
  collectRuns?: () => Promise<readonly RunCount[]> | readonly RunCount[];
  /** read at every scrape: job counts per queue and state (BullMQ `getJobCounts`) */
  collectQueues?: () => Promise<readonly QueueCount[]> | readonly QueueCount[];
}

export interface ControllerMetrics {
  runs: Gauge<'status' | 'team'>;
  queueDepth: Gauge<'queue' | 'state'>;
  queueWait: Histogram<'kind'>;
  runRestarts: Counter<'run_id' | 'team' | 'cause'>;
  runsFinished: Counter<'team' | 'kind' | 'status'>;
  sweepsActive: Gauge<'team'>;
  sweepTrialsLive: Gauge<'team'>;
  sweepEarlyStops: Counter<'team'>;
  /** one gang restart of a run */
  restart(l: { run_id: string; team: string; cause: RestartCause }): void;
  /** a run reached its final status: counts it and drops its restart series */
  finished(l: { run_id: string; team: string; kind: string; status: string }): void;
}

/**
 * The controller's metrics. `cim_runs` and `cim_queue_depth` are set at scrape time from the
 * callbacks (reset first, so a status or state with no runs left disappears); a callback that
 * throws fails the scrape, which Prometheus records as `up == 0` rather than stale numbers.
 */
export function controllerMetrics(registry: Registry, opts: ControllerMetricsOptions = {}): ControllerMetrics {
  const { collectRuns, collectQueues, collectSweeps } = opts;
  const sweepCounts = (part: 'active' | 'liveTrials') => {
    if (!collectSweeps) return undefined;
    return async function (this: Gauge<'team'>) {
      const rows = (await collectSweeps())[part];
      this.reset();
      for (const r of rows) this.set({ team: r.team }, r.count);
    };
  };
  const runs = gaugeOf(
    registry,
    catalogue.runs,
    collectRuns &&
      async function () {
        const rows = await collectRuns();
        this.reset();
        for (const r of rows) this.set({ status: r.status, team: r.team }, r.count);
      },
  );
  const queueDepth = gaugeOf(
    registry,
    catalogue.queueDepth,
    collectQueues &&
      async function () {
        const rows = await collectQueues();
        this.reset();
        for (const r of rows) this.set({ queue: r.queue, state: r.state }, r.count);
      },
  );
  const runRestarts = counterOf(registry, catalogue.runRestarts);
  const runsFinished = counterOf(registry, catalogue.runsFinished);
  const restartCauses = new Map<string, Set<string>>(); // run_id → "team\0cause" seen
  return {
    runs,
    queueDepth,
    queueWait: histogramOf(registry, catalogue.queueWait),
    runRestarts,
    runsFinished,
    sweepsActive: gaugeOf(registry, catalogue.sweepsActive, sweepCounts('active')),
    sweepTrialsLive: gaugeOf(registry, catalogue.sweepTrialsLive, sweepCounts('liveTrials')),
    sweepEarlyStops: counterOf(registry, catalogue.sweepEarlyStops),
    restart(l) {
      runRestarts.inc({ run_id: l.run_id, team: l.team, cause: l.cause });
      const seen = restartCauses.get(l.run_id) ?? new Set<string>();
      seen.add(`${l.team}\0${l.cause}`);
      restartCauses.set(l.run_id, seen);
    },
    finished(l) {
      runsFinished.inc({ team: l.team, kind: l.kind, status: l.status });
      for (const key of restartCauses.get(l.run_id) ?? []) {
        const [team, cause] = key.split('\0');
        runRestarts.remove({ run_id: l.run_id, team, cause });
      }
      restartCauses.delete(l.run_id);
    },
  };
}
