import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import {
  allMetricSpecs,
  apiMetrics,
  catalogue,
  controllerMetrics,
  createRegistry,
  exposedNames,
  httpDurationHistogram,
  LINT_FAILING_DEFAULTS,
  workerMetrics,
} from './index.ts';
import { sampleExpositions } from './testing/samples.ts';
import { NO_PROMTOOL, promtool, run } from './testing/tools.ts';

/** sample lines `name{labels} value` → name → label sets */
function samples(text: string): Map<string, Record<string, string>[]> {
  const out = new Map<string, Record<string, string>[]>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    out.set(m[1], [...(out.get(m[1]) ?? []), labels]);
  }
  return out;
}

describe('metric catalogue', () => {
  it('names are unique, snake_case, cim_-prefixed; counters end in _total, others do not', () => {
    const names = allMetricSpecs.map((s) => s.name);
    assert.equal(new Set(names).size, names.length);
    for (const s of allMetricSpecs) {
      assert.match(s.name, /^cim_[a-z0-9_]+$/);
      assert.equal(s.name.endsWith('_total'), s.type === 'counter', s.name);
      assert.ok(s.help.length > 10, s.name);
      if (s.type === 'histogram') assert.ok((s.buckets?.length ?? 0) >= 5, s.name);
    }
    assert.equal(allMetricSpecs.length, 25);
  });

  it('every process exposes all of its metrics with the labels the catalogue declares', async () => {
    const text = await sampleExpositions();
    for (const s of allMetricSpecs) {
      const series = samples(text[s.service]);
      for (const name of exposedNames(s)) {
        const sets = series.get(name);
        assert.ok(sets?.length, `${name} missing from the ${s.service} exposition`);
        const expected = [...s.labelNames, 'component', ...(s.service === 'worker' ? ['backend'] : [])];
        if (name.endsWith('_bucket')) expected.push('le');
        for (const set of sets) assert.deepEqual(Object.keys(set).sort(), [...new Set(expected)].sort(), name);
      }
    }
    const w = samples(text.worker);
    assert.deepEqual(w.get('cim_rank_images_per_second')?.[0], {
      run_id: 'run-1',
      rank: '0',
      team: 'vision',
      component: 'worker',
      backend: 'wasm',
    });
    assert.match(text.worker, /^cim_rank_images_per_second\{[^}]*\} 128$/m);
    assert.match(text.worker, /^cim_worker_info\{worker="worker-0",backend="wasm",component="worker"\} 1$/m);
    assert.match(text.controller, /^cim_runs\{status="QUEUED",team="nlp",component="controller"\} 1$/m);
    assert.match(text.controller, /^cim_sweeps_active\{team="vision",component="controller"\} 1$/m);
    assert.match(text.controller, /^cim_sweep_trials_live\{team="vision",component="controller"\} 3$/m);
    assert.match(text.controller, /^cim_sweep_early_stops_total\{team="vision",component="controller"\} 1$/m);
    assert.match(text.controller, /^cim_queue_depth\{queue="cim-ranks",state="active",component="controller"\} 8$/m);
    for (const name of LINT_FAILING_DEFAULTS) assert.ok(!text.api.includes(`\n${name}`), name);
    assert.match(text.api, /^process_start_time_seconds\{component="api"\} \d+$/m);
  });

  it('every exposition passes `promtool check metrics` with no complaint', { skip: promtool ? false : NO_PROMTOOL }, async () => {
    const text = await sampleExpositions();
    for (const [service, body] of Object.entries(text)) {
      const r = run(promtool!, ['check', 'metrics'], body);
      assert.equal(r.status, 0, `${service}: ${r.stdout}${r.stderr}`);
      assert.equal((r.stdout + r.stderr).trim(), '', `${service}: ${r.stdout}${r.stderr}`);
    }
  });

  it('promtool does complain about a broken exposition (the check is live)', { skip: promtool ? false : NO_PROMTOOL }, () => {
    const r = run(promtool!, ['check', 'metrics'], '# HELP cim_bad_total x\n# TYPE cim_bad_total gauge\ncim_bad_total 1\n');
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /non-counter metrics should not have "_total" suffix/);
  });

  it('httpDurationHistogram returns the one already registered; a clash of types throws', () => {
    const r = new Registry();
    const a = httpDurationHistogram(r);
    assert.equal(httpDurationHistogram(r), a);
    assert.equal(apiMetrics(r).httpDuration, a);
    const clash = new Registry();
    new Counter({ name: catalogue.httpRequestDuration.name, help: 'not a histogram', registers: [clash] });
    assert.throws(() => httpDurationHistogram(clash), /already registered as another type, not a histogram/);
  });

  it('forgetRun removes every series of one run and keeps the others', async () => {
    const reg = createRegistry({ service: 'worker', backend: 'cpu', defaultMetrics: false });
    const wm = workerMetrics(reg, { worker: 'w', backend: 'cpu' });
    for (const run_id of ['a', 'b']) {
      for (const rank of [0, 1]) {
        const r = wm.rank({ run_id, rank, team: 't' });
        assert.equal(wm.rank({ run_id, rank, team: 't' }), r);
        r.step({ seconds: 1, images: 8, loss: 2, lr: 0.1, targetMomentum: 0.99 });
        r.allreduce(0.1, 10);
        r.dataWait(0.1);
        r.heartbeat();
        r.failure('exit');
        if (rank === 0) r.checkpoint(1, 100);
      }
    }
    wm.forgetRun('a');
    wm.forgetRun('a');
    const text = await reg.metrics();
    assert.ok(!text.includes('run_id="a"'), text);
    assert.equal(text.match(/^cim_rank_loss\{run_id="b"/gm)?.length, 2);
    assert.match(text, /^cim_checkpoint_bytes_total\{run_id="b",team="t",component="worker",backend="cpu"\} 100$/m);
    assert.match(text, /^cim_worker_busy\{worker="w",component="worker",backend="cpu"\} 0$/m);
  });

  it('scrape-time gauges drop a status that has no runs left; finished() drops restart series', async () => {
    let rows = [
      { status: 'RUNNING', team: 't', count: 1 },
      { status: 'QUEUED', team: 't', count: 4 },
    ];
    const reg = createRegistry({ service: 'controller', defaultMetrics: false });
    const cm = controllerMetrics(reg, { collectRuns: () => rows });
    assert.match(await reg.metrics(), /^cim_runs\{status="QUEUED",team="t",component="controller"\} 4$/m);
    rows = [{ status: 'RUNNING', team: 't', count: 2 }];
    const text = await reg.metrics();
    assert.ok(!text.includes('status="QUEUED"'));
    assert.match(text, /^cim_runs\{status="RUNNING",team="t",component="controller"\} 2$/m);
    cm.restart({ run_id: 'r', team: 't', cause: 'user' });
    cm.restart({ run_id: 'r', team: 't', cause: 'user' });
    assert.match(await reg.metrics(), /^cim_run_restarts_total\{run_id="r",team="t",cause="user",component="controller"\} 2$/m);
    cm.finished({ run_id: 'r', team: 't', kind: 'PRETRAIN', status: 'FAILED' });
    const after = await reg.metrics();
    assert.ok(!after.includes('run_id="r"'));
    assert.match(after, /^cim_runs_finished_total\{team="t",kind="PRETRAIN",status="FAILED",component="controller"\} 1$/m);
  });
});
