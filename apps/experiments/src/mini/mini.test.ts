import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budgets, finetuneConfig, planJobs } from './plan.ts';
import { whatThisShows, type Table } from './report.ts';
import { cell, verdict } from '../shared/stats.ts';
import { testBackendChoice } from '@cim-forge/cim/testing';

const script = fileURLToPath(new URL('../main.ts', import.meta.url));

function runScript(args: string[]): { stdout: string; stderr: string; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CIM_BACKEND: testBackendChoice() },
  });
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.status, 0, `paper-mini exited ${r.status}:\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr, seconds };
}

test('mean ± sample std; a clear margin needs 1 point and twice the standard error', () => {
  const c = cell([80, 82, 84]);
  assert.equal(c.mean, 82);
  assert.equal(c.std, 2);
  assert.equal(cell([50]).std, 0);
  assert.equal(verdict(cell([90, 91, 92]), cell([80, 81, 82])).clear, true);
  assert.equal(verdict(cell([82, 85, 88]), cell([80, 83, 86])).clear, false); // +2 with se ≈ 2.4
  assert.equal(verdict(cell([80.5]), cell([80])).clear, false); // under a point
  const t = (cim: number, scratch: number): Table => {
    const row = (v: number) => ({ ft10: cell([v]), ft100: cell([v]), probe: cell([v]) });
    return { cim: row(cim), scratch: row(scratch) };
  };
  assert.match(whatThisShows(t(70, 80), 100), /does \*\*not\*\* beat scratch/);
  assert.match(whatThisShows(t(70, 80), 100), /claim .* is not reproduced/);
  assert.match(whatThisShows(t(90, 80), 100), /claim holds in miniature/);
});

test('the plan: a pre-training, then 3 tasks × 2 inits × seeds; CIM and scratch share the fine-tuning budget', () => {
  const jobs = planJobs('full', [0, 1, 2], '/tmp/x');
  assert.equal(jobs.length, 1 + 3 * 2 * 3);
  assert.equal(new Set(jobs.map((j) => j.id)).size, jobs.length);
  for (const task of ['ft10', 'ft100'] as const) {
    const cim = finetuneConfig(budgets.full, task, 1, '/x/model.safetensors');
    const scratch = finetuneConfig(budgets.full, task, 1, null);
    assert.deepEqual({ ...cim, initFrom: null, layerDecay: 0 }, { ...scratch, layerDecay: 0 });
  }
  assert.equal(finetuneConfig(budgets.full, 'ft10', 0, null).labelsFraction, 0.1);
});

test('--budget tiny writes the table and the commands; a second invocation reuses the finished jobs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'paper-mini-'));
  const results = join(dir, 'results.md');
  const args = ['--budget', 'tiny', '--seeds', '0', '--results', results, '--out', dir];
  const first = runScript(args);
  const md = await readFile(results, 'utf8');
  const rows = md.split('\n').filter((l) => /^\| (CIM pre-trained|scratch) \|/.test(l));
  assert.equal(rows.length, 2, md);
  assert.match(md, /\| init \| fine-tune 10% \| fine-tune 100% \| linear probe \|/);
  for (const row of rows) {
    const cells = row
      .split('|')
      .slice(2, 5)
      .map((c) => c.trim());
    assert.equal(cells.length, 3);
    for (const c of cells) {
      const m = /^(\d+(?:\.\d+)?) ± (\d+(?:\.\d+)?)$/.exec(c);
      assert.ok(m, `cell "${c}"`);
      assert.ok(Number(m[1]) >= 0 && Number(m[1]) <= 100, c);
    }
  }
  assert.match(md, /## What this shows/);
  assert.match(md, /## Commands to reproduce/);
  assert.match(md, /npm run experiment:paper-mini -- --budget tiny --seeds 0/);
  for (const cmd of ['pretrain', 'finetune', 'probe']) assert.match(md, new RegExp(`npm run cim -- ${cmd} `));
  assert.match(md, /Machine: .+, \d+ cores/);
  const j1 = JSON.parse(first.stdout.trim().split('\n').at(-1)!);
  assert.equal(j1.reused.length, 0);
  for (const init of ['cim', 'scratch'])
    for (const task of ['ft10', 'ft100', 'probe']) assert.ok(j1.table[init][task].mean >= 0 && j1.table[init][task].mean <= 100);

  const second = runScript(args);
  const j2 = JSON.parse(second.stdout.trim().split('\n').at(-1)!);
  assert.equal(j2.reused.length, 7);
  assert.match(second.stderr, /reusing 7 finished job/);
  assert.deepEqual(j2.table, j1.table);
  assert.deepEqual(j2.perSeed, j1.perSeed);
  assert.ok(second.seconds < first.seconds / 2, `second run ${second.seconds.toFixed(1)} s vs first ${first.seconds.toFixed(1)} s`);
  const md2 = await readFile(results, 'utf8');
  assert.deepEqual(
    md2.split('\n').filter((l) => /^\| (CIM pre-trained|scratch) \|/.test(l)),
    rows,
  );
});

test('a run directory keeps its budget; bad flags are usage errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'paper-mini-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--budget', 'huge', '--out', dir], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--budget must be protocol, protocol-tiny or protocol-issue15 .* or full, quick or tiny/);
  const s = spawnSync(process.execPath, ['--import', 'tsx', script, '--seeds', '0,0', '--out', dir], { encoding: 'utf8' });
  assert.equal(s.status, 2);
  assert.match(s.stderr, /--seeds must be distinct/);
});
