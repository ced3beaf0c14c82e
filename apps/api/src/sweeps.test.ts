// POST/GET /v1/sweeps and cancel (issue 22) on real PostgreSQL, Redis and S3: the issue's body is
// accepted, validateOnly plans without writing, bad bodies are 4xx with a reason and write
// nothing, another team gets 404, cancel cancels the live trials.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let other: { authorization: string };
let source: string;

before(async () => {
  env = await startApiTestEnv();
  ({ auth } = await env.team());
  ({ auth: other } = await env.team());
  const r = await env.app.inject({ method: 'POST', url: '/v1/runs', headers: auth, payload: { kind: 'pretrain', preset: 'smoke' } });
  assert.equal(r.statusCode, 201, r.body);
  source = r.json().id;
  await env.db.run.update({ where: { id: source }, data: { status: 'SUCCEEDED', finishedAt: new Date() } });
  await env.db.checkpoint.create({
    data: {
      runId: source,
      step: 4,
      uri: `s3://${env.s3.bucket}/runs/${source}/checkpoints/4`,
      status: 'COMPLETE',
      completedAt: new Date(),
    },
  });
});
after(async () => {
  await env?.close();
});

const issueBody = () => ({
  name: 'lr-asha',
  base: { kind: 'finetune', preset: 'smoke', source: { runId: source, checkpoint: 'latest' } },
  space: { baseLr: { loguniform: [0.0001, 0.1] } },
  algorithm: { name: 'asha', eta: 3, seed: 0 },
  metric: { name: 'val_top1', goal: 'max' },
  maxTrials: 9,
  maxConcurrent: 3,
});

const counts = async () => ({ sweeps: await env.db.sweep.count(), runs: await env.db.run.count() });

test("validateOnly: the issue's body is planned (9 trials, rungs, cost) and nothing is written", async () => {
  const before = await counts();
  const r = await env.app.inject({ method: 'POST', url: '/v1/sweeps', headers: auth, payload: { ...issueBody(), validateOnly: true } });
  assert.equal(r.statusCode, 200, r.body);
  const v = r.json();
  assert.equal(v.valid, true);
  assert.equal(v.trials.length, 9);
  assert.deepEqual(
    v.trials.map((t: { index: number }) => t.index),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
  );
  for (const t of v.trials) assert.ok(t.params.baseLr >= 0.0001 && t.params.baseLr <= 0.1, JSON.stringify(t));
  assert.equal(new Set(v.trials.map((t: { params: { baseLr: number } }) => t.params.baseLr)).size, 9);
  assert.ok(v.rungs.length >= 2, JSON.stringify(v.rungs));
  assert.equal(v.rungs.at(-1), v.totalSteps);
  // the rungs are steps of the base the trials run (libs/sweep adds a validation split for val_top1)
  assert.equal(v.totalSteps, v.plan.totalSteps);
  assert.ok(
    v.notes.some((n: string) => /valFraction/.test(n)),
    JSON.stringify(v.notes),
  );
  for (let k = 1; k < v.rungs.length; k++) assert.ok(v.rungs[k] > v.rungs[k - 1]);
  assert.ok(v.estimate.stepsExpected < v.estimate.steps, JSON.stringify(v.estimate));
  assert.equal(v.estimate.steps, 9 * v.totalSteps);
  assert.equal(v.estimate.flops, v.estimate.stepsExpected * v.resources.flopsPerStep);
  // no fine-tuning has finished on this service yet: no FLOP rate, no seconds
  assert.equal(v.estimate.seconds, null);
  assert.deepEqual(await counts(), before);
  // the same seed plans the same trials
  const again = (
    await env.app.inject({ method: 'POST', url: '/v1/sweeps', headers: auth, payload: { ...issueBody(), validateOnly: true } })
  ).json();
  assert.deepEqual(again.trials, v.trials);
});

test("validateOnly's seconds: the sweep's FLOPs at the rate this service's last fine-tunes achieved (sweep trials left out)", async () => {
  const { teamId } = await env.team();
  const finished = new Date();
  const done = (flopsPerStep: number, totalSteps: number, seconds: number, sweepId?: string) => ({
    teamId,
    kind: 'finetune' as const,
    config: {},
    worldSize: 1,
    status: 'SUCCEEDED' as const,
    plan: { totalSteps },
    resources: { flopsPerStep },
    startedAt: new Date(finished.getTime() - seconds * 1000),
    finishedAt: finished,
    sweepId,
  });
  const sweep = await env.db.sweep.create({ data: { teamId, name: 'old', kind: 'finetune', base: {}, spec: {}, status: 'SUCCEEDED' } });
  const rows = await Promise.all([
    // 100 steps × 2 GFLOP in 100 s and 300 steps × 1 GFLOP in 200 s: 500 GFLOP in 300 s
    env.db.run.create({ data: done(2e9, 100, 100) }),
    env.db.run.create({ data: done(1e9, 300, 200) }),
    // a trial stopped at a rung would skew the rate: not counted
    env.db.run.create({ data: { ...done(1e12, 1000, 1), trialIndex: 0, sweepId: sweep.id } }),
  ]);
  try {
    const v = (
      await env.app.inject({ method: 'POST', url: '/v1/sweeps', headers: auth, payload: { ...issueBody(), validateOnly: true } })
    ).json();
    const rate = 500e9 / 300;
    assert.equal(v.estimate.seconds, Math.round(v.estimate.flops / rate), JSON.stringify(v.estimate));
    assert.ok(v.estimate.seconds > 0);
  } finally {
    await env.db.run.deleteMany({ where: { id: { in: rows.map((r) => r.id) } } });
    await env.db.sweep.delete({ where: { id: sweep.id } });
  }
});

test("the issue's body → 201 RUNNING with 9 pending trials; GET, list; another team's token → 404", async () => {
  const r = await env.app.inject({ method: 'POST', url: '/v1/sweeps', headers: auth, payload: issueBody() });
  assert.equal(r.statusCode, 201, r.body);
  const s = r.json();
  assert.equal(s.status, 'RUNNING');
  assert.equal(s.name, 'lr-asha');
  assert.equal(s.kind, 'finetune');
  assert.equal(s.maxTrials, 9);
  assert.equal(s.maxConcurrent, 3);
  assert.deepEqual(s.metric, { name: 'val_top1', goal: 'max' });
  assert.equal(s.trials.length, 9);
  for (const t of s.trials) {
    assert.equal(t.status, 'pending');
    assert.equal(t.runId, null);
    assert.equal(t.runStatus, null);
    assert.deepEqual(t.rungMetrics, []);
    assert.equal(t.metric, null);
  }
  assert.equal(s.best, null);
  const got = await env.app.inject({ method: 'GET', url: `/v1/sweeps/${s.id}`, headers: auth });
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.json().trials, s.trials);
  const list = await env.app.inject({ method: 'GET', url: '/v1/sweeps?limit=1', headers: auth });
  assert.equal(list.statusCode, 200);
  assert.equal(list.json().sweeps[0].id, s.id);
  const theirs = await env.app.inject({ method: 'GET', url: '/v1/sweeps', headers: other });
  assert.deepEqual(theirs.json().sweeps, []);
  for (const [method, url] of [
    ['GET', `/v1/sweeps/${s.id}`],
    ['POST', `/v1/sweeps/${s.id}/cancel`],
    ['GET', `/v1/sweeps/${s.id}/stream`],
  ] as const) {
    const x = await env.app.inject({ method, url, headers: other });
    assert.equal(x.statusCode, 404, `${method} ${url}: ${x.body}`);
    assert.equal(x.json().message, `sweep ${s.id} not found`);
  }
});

test('bad bodies → 4xx naming the field, nothing created', async () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['empty space', { space: {} }, /space/],
    ['unknown field', { colour: 'blue' }, /colour|additional/],
    ['unknown field in base', { base: { ...issueBody().base, validateOnly: true } }, /validateOnly|additional/],
    ['unknown config field', { space: { learningRat: { loguniform: [0.001, 0.1] } } }, /learningRat/],
    [
      'grid larger than maxTrials',
      { algorithm: { name: 'grid' }, space: { baseLr: { choice: [0.1, 0.01, 0.001] } }, maxTrials: 2 },
      /maxTrials/,
    ],
    ['loguniform low ≤ 0', { space: { baseLr: { loguniform: [0, 0.1] } } }, /space\/baseLr/],
    ['η < 2', { algorithm: { name: 'asha', eta: 1.5 } }, /eta/],
    ['eval base', { base: { kind: 'eval', preset: 'smoke', source: { runId: source, checkpoint: 'latest' } } }, /base\/kind/],
    ['bad base config', { base: { ...issueBody().base, config: { epochs: -1 } } }, /base\/config\/epochs/],
  ];
  const before = await counts();
  for (const [what, patch, reason] of cases) {
    const r = await env.app.inject({ method: 'POST', url: '/v1/sweeps', headers: auth, payload: { ...issueBody(), ...patch } });
    assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${what}: ${r.statusCode} ${r.body}`);
    assert.match(r.json().message, reason, what);
  }
  assert.deepEqual(await counts(), before);
});

test('cancel: the sweep CANCELLED, its pending trials cancelled, its live trial runs CANCELLED; again → 409', async () => {
  const s = (await env.app.inject({ method: 'POST', url: '/v1/sweeps', headers: auth, payload: issueBody() })).json();
  // a trial the driver launched (as it would: a run with the sweep's link)
  const sub = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: { kind: 'finetune', preset: 'smoke', source: { runId: source, checkpoint: 'latest' } },
  });
  const runId = sub.json().id;
  await env.db.run.update({ where: { id: runId }, data: { sweepId: s.id, trialIndex: 0, status: 'PAUSED' } });
  await env.db.sweepTrial.update({ where: { sweepId_index: { sweepId: s.id, index: 0 } }, data: { runId, state: 'paused', rung: 0 } });
  const theirs = await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}`, headers: other });
  assert.equal(theirs.statusCode, 404);
  const mine = (await env.app.inject({ method: 'GET', url: `/v1/runs/${runId}`, headers: auth })).json();
  assert.equal(mine.sweepId, s.id);
  assert.equal(mine.trialIndex, 0);

  const r = await env.app.inject({ method: 'POST', url: `/v1/sweeps/${s.id}/cancel`, headers: auth });
  assert.equal(r.statusCode, 202, r.body);
  const c = r.json();
  assert.equal(c.status, 'CANCELLED');
  assert.ok(c.finishedAt);
  assert.deepEqual(new Set(c.trials.map((t: { status: string }) => t.status)), new Set(['cancelled']));
  assert.equal(c.trials[0].runStatus, 'CANCELLED');
  const run = await env.db.run.findUniqueOrThrow({ where: { id: runId } });
  assert.equal(run.status, 'CANCELLED');
  const again = await env.app.inject({ method: 'POST', url: `/v1/sweeps/${s.id}/cancel`, headers: auth });
  assert.equal(again.statusCode, 409);
  assert.match(again.json().message, /already CANCELLED/);
});
