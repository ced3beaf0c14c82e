import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testBackendChoice } from '@cim-forge/cim/testing';
import { doneEntries, Ledger, watchLoad, type LedgerEntry } from './ledger.ts';
import { planProtocol, protocolBudgets } from './plan.ts';

const script = fileURLToPath(new URL('../main.ts', import.meta.url));

function run(args: string[]): { stdout: string; stderr: string; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CIM_BACKEND: testBackendChoice() },
  });
  assert.equal(r.status, 0, `exited ${r.status}:\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  return { stdout: r.stdout, stderr: r.stderr, json: last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : {} };
}

const entry = (id: string, max: number, figure: number): LedgerEntry => ({
  budget: 'protocol',
  id,
  kind: 'probe',
  figures: { testTop1: figure },
  seconds: 1,
  load: { start: max, end: max, max },
  loaded: max > 3,
  commit: 'abc',
  machine: { cpu: 'x', cores: 2, os: 'linux', node: 'v20' },
  finishedAt: '2026-12-07T00:00:00Z',
});

test('the ledger: a job run above the load limit is not done; a later quiet run replaces it, a later loaded one never replaces a quiet one', async () => {
  const done = doneEntries([entry('a', 5, 0.1), entry('b', 1, 0.2), entry('a', 2, 0.3), entry('b', 7, 0.4), entry('c', 3.5, 0.5)], 3);
  assert.deepEqual([...done].map(([id, e]) => [id, e.figures.testTop1]).sort(), [
    ['a', 0.3],
    ['b', 0.2],
  ]);
  assert.equal(doneEntries([entry('c', 3.5, 0.5)], 4).size, 1);

  const dir = await mkdtemp(join(tmpdir(), 'ledger-'));
  const l = new Ledger(dir, 'protocol');
  await l.append(entry('a', 1, 0.1));
  await l.append({ ...entry('a', 1, 0.9), budget: 'protocol-tiny' });
  assert.deepEqual(
    (await new Ledger(dir, 'protocol').entries()).map((e) => e.figures.testTop1),
    [0.1],
  );
  assert.deepEqual(
    (await new Ledger(dir, 'protocol-tiny').entries()).map((e) => e.figures.testTop1),
    [0.9],
  );
  await writeFile(l.path, `${await readFile(l.path, 'utf8')}{"budget": "protocol", half a line\n`);
  await assert.rejects(l.entries(), /ledger\.jsonl:3: not a JSON line/);

  let load = 1;
  const w = watchLoad(() => load, 5);
  load = 4.5;
  await new Promise((r) => setTimeout(r, 30));
  load = 2;
  assert.deepEqual(w.stop(), { start: 1, end: 2, max: 4.5 });
});

test('protocol-tiny writes the ledger; a rerun skips every job; the page is rebuilt from the ledger alone; a loaded job is rerun', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'protocol-tiny-'));
  const out = join(dir, 'runs');
  const ledgerDir = join(dir, 'ledger');
  const results = join(dir, 'results.md');
  // this test checks the bookkeeping, not timing: the shared test machine is loaded, so the load limit is lifted
  const args = [
    '--budget',
    'protocol-tiny',
    '--seeds',
    '0',
    '--out',
    out,
    '--ledger',
    ledgerDir,
    '--results',
    results,
    '--max-load',
    '1000',
  ];
  const planned = planProtocol(protocolBudgets['protocol-tiny'], [0]).map((j) => j.id);

  const first = run(args);
  assert.deepEqual(first.json.ran, planned);
  const lines = (await readFile(join(ledgerDir, 'ledger.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(lines.length, planned.length);
  const entries = lines.map((l) => JSON.parse(l) as LedgerEntry);
  for (const e of entries) {
    assert.equal(e.budget, 'protocol-tiny');
    assert.ok(e.seconds > 0 && e.load.max >= e.load.start && e.load.start >= 0, JSON.stringify(e.load));
    assert.match(e.commit, /^([0-9a-f]{12}(\+dirty)?|unknown)$/);
    assert.equal(e.machine.cores > 0, true);
  }
  const byId = new Map(entries.map((e) => [e.id, e]));
  for (const id of ['ft-scratch-f10-s0', 'ft-cim-online-f100-s0', 'probe-cim-target-s0']) {
    const top1 = byId.get(id)!.figures.testTop1 as number;
    assert.ok(top1 >= 0 && top1 <= 1, `${id}: ${top1}`);
  }
  assert.equal(byId.get('ft-cim-online-f10-s0')!.seed, 0);
  assert.equal(
    (byId.get('ft-cim-online-f10-s0')!.config as { initFrom: string }).initFrom.endsWith('artifacts/pretrain.safetensors'),
    true,
  );
  const curve = byId.get('pt-curve')!.figures.curve as Array<Record<string, number>>;
  assert.equal(curve.length, 2);
  for (const p of curve) assert.ok(p.priorIoU > 0 && p.priorIoU < 1 && p.knnTop1 >= 0 && p.knnTop1 <= 1, JSON.stringify(p));
  // the artifacts later jobs need: the pre-trained model, the 10%-label fine-tunes, the chosen grid points; well under 20 MB
  const artifacts = (await readdir(join(ledgerDir, 'artifacts'))).sort();
  assert.deepEqual(artifacts, [
    'chosen-grid.json',
    'ft-cim-online-f10-s0.safetensors',
    'ft-cim-target-f10-s0.safetensors',
    'ft-scratch-f10-s0.safetensors',
    'pretrain.safetensors',
  ]);
  let bytes = 0;
  for (const a of artifacts) bytes += (await stat(join(ledgerDir, 'artifacts', a))).size;
  assert.ok(bytes < 20e6 / 3, `${bytes} bytes`);
  const page = await readFile(results, 'utf8');
  assert.match(page, /the ledger holds 20 of the 20 planned jobs/);
  assert.match(page, /\| cim-online \| \d+\.\d ± 0\.0 \| \d+\.\d ± 0\.0 \| \d+\.\d ± 0\.0 \| \d+\.\d ± 0\.0 \|/);

  // a rerun skips every job and appends nothing
  const second = run(args);
  assert.deepEqual(second.json.ran, []);
  assert.deepEqual(second.json.reused, planned);
  assert.match(second.stderr, /the ledger holds 20 of 20 job\(s\): skipping them/);
  assert.equal((await readFile(join(ledgerDir, 'ledger.jsonl'), 'utf8')).trim().split('\n').length, planned.length);

  // --report with the run directories gone: the same page, from the ledger alone
  await rm(out, { recursive: true });
  await rm(results);
  const rep = run([...args, '--report']);
  assert.equal(rep.json.ran, undefined);
  assert.equal(await readFile(results, 'utf8'), page);

  // mark one job as run at load 7 and the others at 0.5: with the default limit (3) only that job runs again
  const marked = entries.map((e) => JSON.stringify({ ...e, load: { start: 0.5, end: 0.5, max: e.id === 'probe-scratch-s0' ? 7 : 0.5 } }));
  await writeFile(join(ledgerDir, 'ledger.jsonl'), `${marked.join('\n')}\n`);
  const withLoaded = run([
    '--budget',
    'protocol-tiny',
    '--seeds',
    '0',
    '--out',
    out,
    '--ledger',
    ledgerDir,
    '--results',
    results,
    '--report',
  ]);
  assert.equal(withLoaded.json.ran, undefined);
  assert.match(await readFile(results, 'utf8'), /must be rerun: probe-scratch-s0/);
  const third = run([
    '--budget',
    'protocol-tiny',
    '--seeds',
    '0',
    '--out',
    out,
    '--ledger',
    ledgerDir,
    '--results',
    results,
    '--max-load',
    '3',
  ]);
  assert.deepEqual(third.json.ran, ['probe-scratch-s0']);
  const after = (await readFile(join(ledgerDir, 'ledger.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(after.length, planned.length + 1);
  const rerun = JSON.parse(after.at(-1)!) as LedgerEntry;
  assert.equal(rerun.id, 'probe-scratch-s0');
  assert.equal(rerun.loaded, rerun.load.max > 3);
  // runs are deterministic: the rerun reproduces the figure
  assert.equal(rerun.figures.testTop1, byId.get('probe-scratch-s0')!.figures.testTop1);
});
