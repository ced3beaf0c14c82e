import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../args.ts';
import { run as runFinetune } from './finetune.ts';
import { parseCorruptions, parseFraction, parseSeverities, run } from './eval.ts';
import { testBackendChoice } from '@cim-forge/cim/testing';

async function quiet<T>(f: () => Promise<T>): Promise<{ value: T; stdout: string; stderr: string }> {
  const [log, err] = [console.log, console.error];
  let stdout = '';
  let stderr = '';
  console.log = (s: string) => (stdout += `${s}\n`);
  console.error = (s: string) => (stderr += `${s}\n`);
  try {
    return { value: await f(), stdout, stderr };
  } finally {
    console.log = log;
    console.error = err;
  }
}

test('flags: ε as 2/255 or 0.008; corruptions and severities checked; bad input is a UsageError', async () => {
  assert.equal(parseFraction('eps', '2/255'), 2 / 255);
  assert.equal(parseFraction('eps', '0.008'), 0.008);
  assert.equal(parseFraction('eps', undefined), undefined);
  for (const bad of ['abc', '2/0', '-1', '3', '1/2/3']) assert.throws(() => parseFraction('eps', bad), UsageError, bad);
  assert.deepEqual(parseCorruptions('jpeg,contrast'), ['jpeg', 'contrast']);
  assert.deepEqual(parseCorruptions('none'), []);
  assert.throws(() => parseCorruptions('fog'), /unknown "fog"/);
  assert.deepEqual(parseSeverities('5,1,3'), [1, 3, 5]);
  assert.throws(() => parseSeverities('0,6'), UsageError);
  const { value, stdout } = await quiet(() => run(['--help']));
  assert.equal(value, 0);
  assert.match(stdout, /pixel units of \[0, 1\]/);
  await assert.rejects(run([]), /--from is required/);
  await assert.rejects(run(['--from', 'scratch']), UsageError);
  await assert.rejects(run(['--from', 'x', '--dataset', 'cifar10']), UsageError);
  await assert.rejects(run(['--from', 'x', '--eps', '8']), /--eps must be a number in \[0, 1\]/);
});

test('eval on a tiny fine-tune run directory writes a report; --baseline normalizes the mCE', async () => {
  const ft = await mkdtemp(join(tmpdir(), 'eval-ft-'));
  const trained = await quiet(() =>
    runFinetune([
      '--from',
      'scratch',
      '--model',
      'cimVitMicroPatch4',
      '--img-size',
      '16',
      '--dataset',
      'fashion-mnist',
      '--limit',
      '64',
      '--eval-images',
      '16',
      '--batch-size',
      '16',
      '--epochs',
      '1',
      '--no-aug',
      '--out',
      ft,
      '--backend',
      testBackendChoice(),
      '--max-steps',
      '2',
    ]),
  );
  assert.equal(trained.value, 0, trained.stderr);
  const out = join(ft, 'robustness.json');
  const args = [
    '--from',
    ft,
    '--dataset',
    'fashion-mnist',
    '--limit',
    '24',
    '--eps',
    '2/255',
    '--pgd-steps',
    '3',
    '--corruptions',
    'gaussian_noise,jpeg',
    '--severities',
    '1,5',
    '--batch-size',
    '12',
    '--backend',
    testBackendChoice(),
  ];
  const r = await quiet(() => run([...args, '--out', out]));
  assert.equal(r.value, 0);
  assert.match(r.stderr, /clean top-1/);
  assert.match(r.stderr, /mCE/);
  const printed = JSON.parse(r.stdout.trim());
  const file = JSON.parse(await readFile(out, 'utf8'));
  assert.deepEqual(printed, file);
  assert.equal(file.format, 'cim-forge/robustness-report@1');
  assert.equal(file.images, 24);
  assert.equal(file.settings.eps, 2 / 255);
  assert.ok(Math.abs(file.settings.pgdAlpha - (2.5 * 2) / 255 / 3) < 1e-12);
  for (const v of [file.clean.top1, file.fgsm.top1, file.pgd.top1, file.corruptions.jpeg['5'], file.mCE])
    assert.ok(v >= 0 && v <= 1, String(v));
  assert.ok(file.clean.top1 >= file.pgd.top1);
  assert.equal(file.mceNormalization, 'unnormalized');
  console.log(
    `eval CLI: clean ${file.clean.top1.toFixed(3)} FGSM ${file.fgsm.top1.toFixed(3)} PGD ${file.pgd.top1.toFixed(3)} mCE ${file.mCE.toFixed(3)}`,
  );
  // the same model as its own baseline: every CE_c is 1 (when its errors are not 0)
  const base = join(ft, 'base.json');
  await writeFile(
    base,
    JSON.stringify({
      ...file,
      corruptions: Object.fromEntries(
        Object.entries(file.corruptions as Record<string, Record<string, number>>).map(([c, s]) => [
          c,
          Object.fromEntries(Object.keys(s).map((k) => [k, 0.5])),
        ]),
      ),
    }),
  );
  const r2 = await quiet(() => run([...args, '--eps', '0', '--baseline', base]));
  const rel = JSON.parse(r2.stdout.trim());
  assert.equal(rel.mceNormalization, 'baseline');
  assert.equal(rel.fgsm, null);
  const expect =
    Object.values(rel.corruptions as Record<string, Record<string, number>>)
      .map((s) => Object.values(s).reduce((a, v) => a + 1 - v, 0) / 1)
      .reduce((a, v) => a + v, 0) / 2;
  assert.ok(Math.abs(rel.mCE - expect) < 1e-9, `mCE ${rel.mCE} vs ${expect}`);
  await assert.rejects(run([...args, '--severities', '3', '--baseline', base]), /--baseline lacks/);
});
