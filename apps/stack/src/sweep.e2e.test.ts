// Issue 22's "Done when", over REST on the dev stack (API, controller with its sweep driver, two
// workers as processes; real PostgreSQL, Redis, s3rver): a smoke pre-training, then the issue's
// ASHA sweep over the fine-tuning learning rate (9 trials, η 3, 3 at once) finishes; some trials
// stop early with a reason; every promoted trial's events show it resumed from its checkpoint;
// the best trial's metric equals a standalone run of its config; another team's token gets 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TempDatabase } from '@cim-forge/db/testing';
import { type Stack } from './stack.ts';
import { closeTestStack, startTestStack } from './test-stack.ts';

/** Prometheus text → the sum of every sample of `name` (service.test.ts has the labelled version; importing it would run its tests) */
function sumSamples(text: string, name: string): number {
  let total = 0;
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/gm)) if (m[1] === name) total += Number(m[2]);
  return total;
}

let db: TempDatabase;
let dir: string;
let stack: Stack;
let metricsBase: number;
const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
const log: string[] = [];

before(async () => {
  ({ db, dir, stack, metricsBase } = await startTestStack({ name: 'sweep', workers: 2, adminToken, log }));
});

after(() => closeTestStack({ db, dir, stack }));

async function call<T = Record<string, unknown>>(
  token: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as T };
}
async function ok<T = Record<string, unknown>>(token: string, path: string, init: RequestInit = {}): Promise<T> {
  const r = await call<T>(token, path, init);
  assert.ok(r.status < 300, `${path}: ${r.status} ${JSON.stringify(r.body)}\n${log.slice(-30).join('\n')}`);
  return r.body;
}
async function teamToken(): Promise<string> {
  const team = await ok<{ id: string }>(adminToken, '/v1/teams', {
    method: 'POST',
    body: JSON.stringify({ name: `t-${randomBytes(4).toString('hex')}` }),
  });
  return (await ok<{ token: string }>(adminToken, '/v1/tokens', { method: 'POST', body: JSON.stringify({ teamId: team.id }) })).token;
}
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    assert.ok(Date.now() < deadline, `${what}: not after ${timeoutMs} ms\n${log.slice(-40).join('\n')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
const ended = (token: string, id: string) =>
  until(`run ${id} ends`, 900_000, async () => {
    const r = await ok<{ status: string; error: string | null }>(token, `/v1/runs/${id}`);
    return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status) ? r : undefined;
  });

interface Trial {
  index: number;
  runId: string | null;
  params: { baseLr: number };
  status: string;
  rung: number;
  rungMetrics: (number | null)[];
  metric: number | null;
  stopReason: string | null;
}
interface SweepBody {
  status: string;
  rungs: number[];
  trials: Trial[];
  best: { index: number; runId: string; params: { baseLr: number }; metric: number } | null;
}

test(
  "the issue's ASHA sweep over REST: finishes, stops some early, promoted trials resume, the best is reproducible",
  { timeout: 3_000_000 },
  async () => {
    const a = await teamToken();
    const b = await teamToken();
    const pre = await ok<{ id: string }>(a, '/v1/runs', { method: 'POST', body: JSON.stringify({ kind: 'pretrain', preset: 'smoke' }) });
    assert.equal((await ended(a, pre.id)).status, 'SUCCEEDED');

    const body = {
      name: 'lr-asha',
      base: { kind: 'finetune', preset: 'smoke', source: { runId: pre.id, checkpoint: 'latest' } },
      space: { baseLr: { loguniform: [0.0001, 0.1] } },
      algorithm: { name: 'asha', eta: 3, seed: 0 },
      metric: { name: 'val_top1', goal: 'max' },
      maxTrials: 9,
      maxConcurrent: 3,
    };
    const t0 = Date.now();
    const created = await ok<{ id: string }>(a, '/v1/sweeps', { method: 'POST', body: JSON.stringify(body) });
    let maxLive = 0;
    const sweep = await until('the sweep finishes', 2_400_000, async () => {
      const s = await ok<SweepBody>(a, `/v1/sweeps/${created.id}`);
      maxLive = Math.max(
        maxLive,
        s.trials.filter((t) => ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING'].includes(String((t as { runStatus?: string }).runStatus)))
          .length,
      );
      return s.status === 'RUNNING' ? undefined : s;
    });
    console.log(`sweep of 9 trials: ${((Date.now() - t0) / 1000).toFixed(0)} s; rungs ${sweep.rungs.join(',')}`);
    assert.equal(sweep.status, 'SUCCEEDED', JSON.stringify(sweep));
    assert.ok(maxLive <= 3, `at most 3 live trials, saw ${maxLive}`);
    assert.equal(sweep.trials.length, 9);
    assert.ok(sweep.trials.every((t) => t.runId !== null));
    const runs = await ok<{ runs: { id: string; trialIndex: number }[] }>(a, `/v1/runs?sweepId=${created.id}&limit=50`);
    assert.equal(runs.runs.length, 9, 'exactly one run per trial');

    const stopped = sweep.trials.filter((t) => t.status === 'stopped');
    assert.ok(stopped.length >= 1, JSON.stringify(sweep.trials));
    for (const t of stopped) assert.match(t.stopReason ?? '', /^rung \d+ \(step \d+\): val_top1 .* is not in the top \d+ of \d+/);

    // every promoted trial resumed its own run from its checkpoint
    const promoted = sweep.trials.filter((t) => t.rungMetrics.length > 1);
    assert.ok(promoted.length >= 1);
    for (const t of promoted) {
      const ev = await ok<{ events: { type: string; message: string; data: { step?: number } | null }[] }>(a, `/v1/runs/${t.runId}/events`);
      const resumed = ev.events.filter((e) => e.type === 'run.resumed');
      assert.equal(resumed.length, t.rungMetrics.length - 1, `trial ${t.index}: ${ev.events.map((e) => e.type).join(',')}`);
      assert.deepEqual(
        resumed.map((e) => e.data?.step),
        sweep.rungs.slice(0, t.rungMetrics.length - 1),
      );
    }

    // the best trial's metric = a standalone run of its config
    assert.ok(sweep.best);
    const bestRun = await ok<{ config: Record<string, unknown>; status: string }>(a, `/v1/runs/${sweep.best.runId}`);
    assert.equal(bestRun.status, 'SUCCEEDED');
    const { stopAtStep, ...config } = bestRun.config;
    assert.equal(stopAtStep, null);
    const solo = await ok<{ id: string }>(a, '/v1/runs', {
      method: 'POST',
      body: JSON.stringify({ kind: 'finetune', preset: 'smoke', source: { runId: pre.id, checkpoint: 'latest' }, config }),
    });
    assert.equal((await ended(a, solo.id)).status, 'SUCCEEDED');
    const series = await ok<{ points: { step: number; value: number }[] }>(a, `/v1/runs/${solo.id}/metrics?name=val_top1`);
    const last = series.points.at(-1)!;
    // the API's plan of a fine-tune ignores the validation split (libs/config run-plan.ts), so the last
    // rung may say more steps than the trials run; it runs to the end either way (stopAtStep null)
    const bestSeries = await ok<{ points: { step: number; value: number }[] }>(a, `/v1/runs/${sweep.best.runId}/metrics?name=val_top1`);
    assert.equal(last.step, bestSeries.points.at(-1)!.step, 'the standalone run is as long as the best trial');
    assert.ok(last.step <= sweep.rungs.at(-1)!);
    assert.equal(
      sweep.best.metric,
      last.value,
      `best trial ${sweep.best.index} (baseLr ${sweep.best.params.baseLr}) vs its standalone run`,
    );

    // another team sees neither the sweep nor its trials
    assert.equal((await call(b, `/v1/sweeps/${created.id}`)).status, 404);
    assert.equal((await call(b, `/v1/runs/${sweep.best.runId}`)).status, 404);
    assert.equal((await call(b, `/v1/runs/${stopped[0].runId}/events`)).status, 404);

    // the controller's metrics: no sweep active now, 0 live trials, the early stops counted
    const text = await (await fetch(`http://127.0.0.1:${metricsBase}/metrics`)).text();
    assert.equal(sumSamples(text, 'cim_sweeps_active'), 0);
    assert.equal(sumSamples(text, 'cim_sweep_early_stops_total'), stopped.length);
  },
);
