/**
 * One warm-up rule for a fine-tune that names none (issue 26): 5% of its epochs, at most 5, whether
 * the config comes from the CLI (resolveFinetuneConfig) or is read back by the worker, the CLI's
 * --resume or the resource estimate (parseRunConfig, which fills the schema's other defaults).
 * The REST path is tested in apps/api/src/finetune-warmup.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultWarmupEpochs, resolveFinetuneConfig } from './finetune-config.ts';
import { parseRunConfig } from './schema/run-config-schema.ts';

test('defaultWarmupEpochs: the recipe’s 5 of 100 epochs, scaled to the run, at most 5', () => {
  assert.deepEqual([1, 5, 20, 100, 300].map(defaultWarmupEpochs), [0.05, 0.25, 1, 5, 5]);
});

test('a fine-tune config without a warm-up gets the same one from resolveFinetuneConfig and parseRunConfig', () => {
  for (const epochs of [1, 5, 40, 100, 300]) {
    const want = defaultWarmupEpochs(epochs);
    assert.equal(resolveFinetuneConfig({ epochs }).warmupEpochs, want, `resolve, ${epochs} epochs`);
    // before the rule was shared, the stored-config path took the schema default: 5 epochs of a 5-epoch run
    assert.equal(parseRunConfig('finetune', { epochs }).warmupEpochs, want, `parse, ${epochs} epochs`);
  }
  // no epochs either: the recipe's 100 epochs and its 5 of warm-up
  assert.equal(parseRunConfig('finetune', {}).warmupEpochs, 5);
  // an explicit warm-up is kept on both paths, 0 included
  for (const warmupEpochs of [0, 2]) {
    assert.equal(resolveFinetuneConfig({ epochs: 5, warmupEpochs }).warmupEpochs, warmupEpochs);
    assert.equal(parseRunConfig('finetune', { epochs: 5, warmupEpochs }).warmupEpochs, warmupEpochs);
  }
  // a resolved config read back is unchanged
  const resolved = resolveFinetuneConfig({ epochs: 5 });
  assert.deepEqual(parseRunConfig('finetune', JSON.parse(JSON.stringify(resolved))), resolved);
});
