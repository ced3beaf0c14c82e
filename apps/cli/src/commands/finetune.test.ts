import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../args.ts';
import { labelledDataset, resolveFrom } from '../labelled-data.ts';
import { run } from './finetune.ts';
import { run as runProbe } from './probe.ts';
import { testBackendChoice } from '@cim-forge/cim/testing';
import { defaultWarmupEpochs } from '@cim-forge/config';

test('--from: scratch, a file, a checkpoint dir, a run dir (latest checkpoint); a bad path is a usage error', async () => {
  assert.equal(await resolveFrom('scratch'), null);
  const dir = await mkdtemp(join(tmpdir(), 'ft-from-'));
  const file = join(dir, 'x.safetensors');
  await writeFile(file, '');
  assert.equal(await resolveFrom(file), file);
  await mkdir(join(dir, 'ck'));
  await writeFile(join(dir, 'ck', 'model.safetensors'), '');
  assert.equal(await resolveFrom(join(dir, 'ck')), join(dir, 'ck', 'model.safetensors'));
  await assert.rejects(resolveFrom(join(dir, 'nope')), UsageError);
  await assert.rejects(resolveFrom(dir), /neither a model.safetensors nor a run directory/);
});

test('datasets: fashion-mnist train/test with limits; a folder its train and held-out parts; others refused', async () => {
  assert.deepEqual(await labelledDataset('fashion-mnist', 100, 50), {
    dataset: { kind: 'fashion-mnist', split: 'train', limit: 100 },
    evalDataset: { kind: 'fashion-mnist', split: 'test', limit: 50 },
  });
  const dir = await mkdtemp(join(tmpdir(), 'ft-folder-'));
  assert.deepEqual(await labelledDataset(dir, undefined, undefined, 0.3), {
    dataset: { kind: 'image-folder', root: dir, split: 'train', valFraction: 0.3 },
    evalDataset: { kind: 'image-folder', root: dir, split: 'val', valFraction: 0.3 },
  });
  await assert.rejects(labelledDataset('synthetic'), UsageError);
  await assert.rejects(labelledDataset(join(dir, 'nope')), /not fashion-mnist, an s3:\/\/bucket\/prefix, or a directory/);
  await assert.rejects(labelledDataset(dir, 100), /--limit and --eval-images apply to fashion-mnist/);
  await assert.rejects(labelledDataset('fashion-mnist', undefined, undefined, 0.2), /--val-fraction applies to an ImageFolder/);
});

test('finetune and probe: --help exits 0, a missing --from is a usage error', async () => {
  const log = console.log;
  let printed = '';
  console.log = (s: string) => (printed += s);
  try {
    assert.equal(await run(['--help']), 0);
    assert.match(printed, /--labels-fraction F/);
    assert.equal(await runProbe(['--help']), 0);
    assert.match(printed, /Linear probe/);
  } finally {
    console.log = log;
  }
  await assert.rejects(run(['--dataset', 'fashion-mnist']), /--from is required/);
  await assert.rejects(run(['--from', 'scratch', '--rand-augment', 'lots']), /--rand-augment must be N,M/);
  await assert.rejects(runProbe(['--from', 'scratch', '--labels-fraction', '2']), UsageError);
});

test('a fine-tune run writes config.json, and --resume without --out is refused', async () => {
  const out = await mkdtemp(join(tmpdir(), 'ft-cli-'));
  await assert.rejects(run(['--resume']), /--resume needs --out/);
  const err = console.error;
  const log = console.log;
  let json = '';
  console.error = () => {};
  console.log = (s: string) => (json = s);
  try {
    const code = await run([
      '--from',
      'scratch',
      '--dataset',
      'fashion-mnist',
      '--limit',
      '64',
      '--eval-images',
      '32',
      '--batch-size',
      '16',
      '--epochs',
      '1',
      '--no-aug',
      '--out',
      out,
      '--backend',
      testBackendChoice(),
      '--max-steps',
      '2',
    ]);
    assert.equal(code, 0);
  } finally {
    console.error = err;
    console.log = log;
  }
  const r = JSON.parse(json);
  assert.equal(r.steps, 2);
  assert.equal(r.finalStep, 2);
  assert.equal(r.totalSteps, 4);
  const cfg = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
  assert.equal(cfg.mixup, 0);
  assert.equal(cfg.randAugment, null);
  assert.equal(cfg.initFrom, null);
  // no --warmup-epochs: the one rule every path uses (5% of the run), not the schema's 5 epochs
  assert.equal(cfg.warmupEpochs, defaultWarmupEpochs(1));
  assert.equal(cfg.warmupEpochs, 0.05);
});
