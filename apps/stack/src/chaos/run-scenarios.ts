/** Runs scenarios one after another on one harness and formats their results. */
import type { Harness, Scenario, ScenarioResult } from './harness.ts';
import type { PrivateServer } from './private-services.ts';
import { baseline } from './scenarios/baseline.ts';
import { sigtermWorker } from './scenarios/sigterm-worker.ts';
import { killRank } from './scenarios/kill-rank.ts';
import { killWorker } from './scenarios/kill-worker.ts';
import { sigstopRank } from './scenarios/sigstop-rank.ts';
import { corruptCheckpoint } from './scenarios/corrupt-checkpoint.ts';
import { nonFiniteLoss } from './scenarios/non-finite-loss.ts';
import { restartControllerCrash, restartControllerGraceful } from './scenarios/restart-controller.ts';
import { restartApi } from './scenarios/restart-api.ts';
import { restartControllerSweep } from './scenarios/restart-controller-sweep.ts';
import { outage } from './scenarios/outages.ts';

/** baseline first (the others compare with its weights); the outages last (they shake the whole stack) */
export function allScenarios(servers: { redis: () => PrivateServer; postgres: () => PrivateServer }): Scenario[] {
  return [
    baseline,
    sigtermWorker,
    killRank,
    killWorker,
    sigstopRank,
    corruptCheckpoint,
    nonFiniteLoss,
    restartControllerGraceful,
    restartControllerCrash,
    restartControllerSweep,
    restartApi,
    outage('Redis', servers.redis),
    outage('PostgreSQL', servers.postgres),
  ];
}

export async function runScenarios(h: Harness, scenarios: Scenario[], onResult?: (r: ScenarioResult) => void): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  for (const s of scenarios) {
    const t0 = performance.now();
    let r: ScenarioResult;
    try {
      const { observed, pass } = await s.run(h);
      r = { scenario: s.name, expected: s.expected, observed, pass, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      r = {
        scenario: s.name,
        expected: s.expected,
        observed: `error: ${(e as Error).message}`,
        pass: false,
        seconds: (performance.now() - t0) / 1000,
      };
      console.error(`--- ${s.name} threw; last service lines\n${h.tail(40)}`);
    }
    out.push(r);
    onResult?.(r);
  }
  return out;
}

/** a Markdown table: scenario | expected | observed | pass | seconds */
export function formatTable(results: ScenarioResult[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = results.map(
    (r) =>
      `| ${esc(r.scenario)} | ${esc(r.expected)} | ${esc(r.observed)} | ${r.pass ? 'PASS' : 'FAIL'} | ${r.seconds?.toFixed(0) ?? ''} |`,
  );
  return ['| scenario | expected | observed | pass | s |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
