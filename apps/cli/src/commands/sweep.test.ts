import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initTestBackend, testBackendChoice } from '@cim-forge/cim/testing';
import { LocalCheckpointStore, pretrain, tinyConfig } from '@cim-forge/engine';
import { childProcessEnv } from '@cim-forge/settings';
import { UsageError } from '../args.ts';
import { run } from './sweep.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
await initTestBackend();

/** a smoke pre-training cut to 2 steps of a 32-d, 2-block encoder: the grid's `from` */
const ptDir = await mkdtemp(join(tmpdir(), 'sweep-pt-'));
await pretrain({ config: tinyConfig({ checkpointEvery: 0 }), store: new LocalCheckpointStore(join(ptDir, 'checkpoints')), maxSteps: 2 });

const gridSpec = (over: Record<string, unknown> = {}) => ({
  name: 'tiny-grid',
  base: {
    kind: 'finetune',
    preset: 'smoke',
    from: ptDir,
    config: {
      dataset: { kind: 'fashion-mnist', split: 'train', limit: 48 },
      evalDataset: { kind: 'fashion-mnist', split: 'test', limit: 32 },
      batchSize: 16,
    },
  },
  space: { baseLr: { loguniform: [0.001, 0.1], grid: 3 }, layerDecay: { choice: [0.65, 0.75] } },
  algorithm: { name: 'grid' },
  metric: { name: 'eval_top1', goal: 'max' },
  maxTrials: 6,
  ...over,
});

async function specFile(spec: unknown): Promise<string> {
  const p = join(await mkdtemp(join(tmpdir(), 'sweep-spec-')), 'sweep.json');
  await writeFile(p, JSON.stringify(spec));
  return p;
}

/** run `cim sweep` in this process: its exit code and its JSON line */
async function sweep(args: string[]): Promise<{
  code: number;
  out: {
    out: string;
    status: string;
    best: { index: number; metric: number };
    trials: { state: string; rungMetrics: number[]; finalStep: number }[];
  };
}> {
  const err = console.error;
  const log = console.log;
  let json = '';
  console.error = () => {};
  console.log = (s: string) => (json = s);
  try {
    const code = await run([...args, '--backend', testBackendChoice()]);
    return { code, out: JSON.parse(json) };
  } finally {
    console.error = err;
    console.log = log;
  }
}

test('cim sweep: bad specs are refused with the field and the reason (exit 2), nothing written', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'sweep-bad-')), 'never');
  const refuse = async (spec: unknown, msg: RegExp) => {
    await assert.rejects(
      run(['--spec', await specFile(spec), '--out', out]),
      (e: unknown) => e instanceof UsageError && msg.test(e.message),
    );
  };
  await refuse(gridSpec({ space: {} }), /^space: the search space is empty/);
  await refuse(gridSpec({ space: { lr: { choice: [1] } } }), /^space\/lr: finetune has no config field "lr"/);
  await refuse(gridSpec({ maxTrials: 5 }), /^maxTrials: the grid has 6 points, more than maxTrials 5/);
  await refuse(
    gridSpec({ space: { baseLr: { loguniform: [0, 0.1] } }, algorithm: { name: 'random' } }),
    /^space\/baseLr\/loguniform: low must be > 0, got 0/,
  );
  await refuse(gridSpec({ algorithm: { name: 'asha', eta: 1 } }), /^spec\/algorithm/);
  await refuse(
    gridSpec({ algorithm: { name: 'asha', eta: 2, maxBudget: 50 } }),
    /^algorithm\/maxBudget: 50 steps \(50 steps\) is longer than the base run \(3 steps\)/,
  );
  await refuse(gridSpec({ base: { kind: 'finetune', source: { runId: 'x' } } }), /base\/source names a service run/);
  await refuse(gridSpec({ base: { kind: 'finetune' } }), /from \(or --from\) is required/);
  await refuse(
    gridSpec({ base: { kind: 'finetune', from: 'scratch', config: { baseLr: 50 } } }),
    /spec\/base\/config\/baseLr must be <= 10/,
  );
  assert.equal(existsSync(out), false);
  // through the command line: exit 2 and the message
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', main, 'sweep', '--spec', await specFile(gridSpec({ maxTrials: 5 })), '--out', out],
    {
      env: childProcessEnv(),
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cim: maxTrials: the grid has 6 points, more than maxTrials 5/);
});

test('cim sweep: a 2 × 3 fine-tuning grid from a pre-training completes, and a rerun gives identical trial metrics', async () => {
  const spec = await specFile(gridSpec());
  const dry = await (async () => {
    const log = console.log;
    let s = '';
    console.log = (x: string) => (s = x);
    try {
      assert.equal(await run(['--spec', spec, '--dry-run']), 0);
    } finally {
      console.log = log;
    }
    return JSON.parse(s) as { trials: { params: Record<string, number> }[]; rungs: number[] };
  })();
  assert.deepEqual(
    dry.trials.map((t) => [t.params.baseLr, t.params.layerDecay]),
    [
      [0.001, 0.65],
      [0.001, 0.75],
      [0.01, 0.65],
      [0.01, 0.75],
      [0.1, 0.65],
      [0.1, 0.75],
    ],
  );
  assert.deepEqual(dry.rungs, [3]);
  const a = await sweep(['--spec', spec, '--out', join(await mkdtemp(join(tmpdir(), 'sweep-a-')), 'grid')]);
  assert.equal(a.code, 0);
  assert.equal(a.out.status, 'SUCCEEDED');
  assert.deepEqual(
    a.out.trials.map((t) => [t.state, t.finalStep]),
    Array.from({ length: 6 }, () => ['completed', 3]),
  );
  const metrics = a.out.trials.map((t) => t.rungMetrics[0]);
  assert.ok(metrics.every((m) => m >= 0 && m <= 1));
  assert.equal(a.out.best.metric, Math.max(...metrics));
  const b = await sweep(['--spec', spec, '--out', join(await mkdtemp(join(tmpdir(), 'sweep-b-')), 'grid')]);
  assert.deepEqual(
    b.out.trials.map((t) => t.rungMetrics),
    a.out.trials.map((t) => t.rungMetrics),
  );
  // an existing sweep is not started over
  await assert.rejects(run(['--spec', spec, '--out', a.out.out]), /already holds a sweep: pass --resume/);
});

test('cim sweep: an interrupted sweep resumes without rerunning finished trials, to the same metrics (ASHA, 2 processes)', async () => {
  const spec = await specFile(
    gridSpec({
      space: { baseLr: { loguniform: [0.001, 0.3] } },
      algorithm: { name: 'asha', eta: 2, seed: 4 },
      metric: { name: 'val_top1', goal: 'max' },
      maxTrials: 4,
      base: { ...gridSpec().base, config: { ...gridSpec().base.config, dataset: { kind: 'fashion-mnist', split: 'train', limit: 96 } } },
    }),
  );
  const straight = await sweep(['--spec', spec, '--out', join(await mkdtemp(join(tmpdir(), 'sweep-s-')), 'asha')]);
  assert.equal(straight.out.status, 'SUCCEEDED');
  const states = straight.out.trials.map((t) => t.state).sort();
  assert.deepEqual(states, ['completed', 'stopped', 'stopped', 'stopped']);
  // the same sweep in 2 child processes, killed once a trial has stopped, then resumed
  const out = join(await mkdtemp(join(tmpdir(), 'sweep-i-')), 'asha');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, 'sweep', '--spec', spec, '--out', out, '--parallel', '2', '--backend', testBackendChoice()],
    {
      env: childProcessEnv(),
      stdio: 'ignore',
      // its own process group: the kill takes its trial processes too
      detached: true,
    },
  );
  const statePath = join(out, 'sweep-state.json');
  let finished: number[] = [];
  for (let i = 0; i < 600 && finished.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(statePath)) continue;
    const s = JSON.parse(await readFile(statePath, 'utf8')) as { trials: { index: number; state: string }[] };
    finished = s.trials.filter((t) => t.state === 'stopped' || t.state === 'completed').map((t) => t.index);
  }
  process.kill(-child.pid!, 'SIGKILL');
  await new Promise((r) => child.on('exit', r));
  assert.ok(finished.length > 0, 'a trial finished before the kill');
  const before = await Promise.all(finished.map((i) => readFile(join(out, `trials/t00${i}/metrics.jsonl`), 'utf8')));
  const resumed = await sweep(['--out', out, '--resume']);
  assert.equal(resumed.code, 0);
  assert.equal(resumed.out.status, 'SUCCEEDED');
  const after = await Promise.all(finished.map((i) => readFile(join(out, `trials/t00${i}/metrics.jsonl`), 'utf8')));
  assert.deepEqual(after, before, 'finished trials were not rerun');
  assert.deepEqual(
    resumed.out.trials.map((t) => [t.state, t.rungMetrics]),
    straight.out.trials.map((t) => [t.state, t.rungMetrics]),
  );
  assert.deepEqual(resumed.out.best, straight.out.best);
});
