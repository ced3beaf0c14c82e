import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultFinetuneConfig, resolvePretrainConfig } from '@cim-forge/config';
import { UsageError } from './args.ts';
import { readConfigFile, RunDir } from './run-command.ts';

test('--resume parses the saved config.json with the run contract: defaults filled, a bad one is a UsageError naming the field', async () => {
  const out = await mkdtemp(join(tmpdir(), 'cim-run-dir-'));
  try {
    const dir = new RunDir('pretrain', out);
    assert.equal(dir.savedConfig, join(out, 'config.json'));
    await assert.rejects(new RunDir('pretrain', undefined).readSavedConfig(), /--resume needs --out DIR/);
    await assert.rejects(dir.readSavedConfig(), new RegExp(`--resume: ${dir.savedConfig} not found; is ${out} a pre-training run\\?`));

    const saved = resolvePretrainConfig('smoke', { epochs: 2 });
    await dir.saveConfig(saved);
    assert.deepEqual(await dir.readSavedConfig(), saved);
    // a config saved before a field existed: the field's default
    const { keepBest: _, ...older } = saved;
    await writeFile(dir.savedConfig, JSON.stringify(older));
    assert.equal((await dir.readSavedConfig()).keepBest, 1);

    await writeFile(dir.savedConfig, JSON.stringify({ ...saved, batchSize: 0 }));
    const bad = await dir.readSavedConfig().catch((e: Error) => e);
    assert.ok(bad instanceof UsageError);
    assert.match(bad.message, /is not a valid pre-training config: pretrain config\/batchSize must be >= 1/);
    await writeFile(dir.savedConfig, '{"epochs": ');
    await assert.rejects(dir.readSavedConfig(), /is not a valid pre-training config: .*JSON/);

    // a fine-tuning run's config is not a pre-training one, and the other way round
    const ft = new RunDir('finetune', out);
    await ft.saveConfig(defaultFinetuneConfig);
    assert.equal((await ft.readSavedConfig()).labelsFraction, defaultFinetuneConfig.labelsFraction);
    await assert.rejects(dir.readSavedConfig(), /is not a valid pre-training config: pretrain config\/encoder /);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('--config FILE: its fields, or a UsageError naming the file', async () => {
  const out = await mkdtemp(join(tmpdir(), 'cim-run-dir-'));
  try {
    assert.deepEqual(await readConfigFile('pretrain', undefined), {});
    await writeFile(join(out, 'c.json'), '{"epochs": 3}');
    assert.deepEqual(await readConfigFile('pretrain', join(out, 'c.json')), { epochs: 3 });
    // checked by the run contract: a bound, an unknown field
    await writeFile(join(out, 'big.json'), '{"batchSize": 100000}');
    await assert.rejects(
      readConfigFile('pretrain', join(out, 'big.json')),
      (e: Error) => e instanceof UsageError && /^--config .*big\.json: config\/batchSize must be <= 4096$/.test(e.message),
    );
    await writeFile(join(out, 'typo.json'), '{"epoch": 3}');
    await assert.rejects(
      readConfigFile('finetune', join(out, 'typo.json')),
      (e: Error) => e instanceof UsageError && /config\/epoch is not allowed \(unknown field\)/.test(e.message),
    );
    await assert.rejects(
      readConfigFile('pretrain', join(out, 'missing.json')),
      (e: Error) => e instanceof UsageError && /^--config .*missing\.json: ENOENT/.test(e.message),
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
