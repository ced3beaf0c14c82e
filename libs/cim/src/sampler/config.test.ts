import { test } from 'node:test';
import assert from 'node:assert/strict';
import { officialSamplerConfig, samplerConfig, smallSamplerConfig } from './config.ts';

test('official and small defaults', () => {
  assert.deepEqual(samplerConfig(), { ...officialSamplerConfig });
  assert.equal(officialSamplerConfig.searchSize, 224);
  assert.equal(officialSamplerConfig.contextSize, 160);
  assert.equal(officialSamplerConfig.exemplarSize, 64);
  assert.equal(officialSamplerConfig.numExemplars, 6);
  assert.deepEqual(officialSamplerConfig.exemplarScale, [0.05, 0.48]);
  assert.deepEqual(officialSamplerConfig.rotation, [-45, 45]);
  const small = samplerConfig({}, smallSamplerConfig);
  assert.deepEqual([small.searchSize, small.contextSize, small.exemplarSize], [64, 32, 16]);
  assert.ok(Object.isFrozen(officialSamplerConfig) && Object.isFrozen(officialSamplerConfig.rotation));
});

test('overrides merge into a fresh, mutable copy', () => {
  const cfg = samplerConfig({ rotation: [0, 1], augment: false });
  assert.deepEqual(cfg.rotation, [0, 1]);
  assert.equal(cfg.augment, false);
  assert.equal(cfg.searchSize, 224);
  cfg.searchScale[0] = 0.9;
  assert.equal(officialSamplerConfig.searchScale[0], 0.5);
});

test('bad fields are named in the error', () => {
  const bad: [object, RegExp][] = [
    [{ contextSize: 0 }, /contextSize must be a positive integer/],
    [{ exemplarSize: 6.5 }, /exemplarSize must be a positive integer/],
    [{ numExemplars: -1 }, /numExemplars/],
    [{ exemplarScale: [0.48, 0.05] }, /exemplarScale must have lo < hi/],
    [{ searchScale: [0.5, 1.5] }, /searchScale must lie in/],
    [{ exemplarRatio: [0, 3] }, /exemplarRatio must lie in/],
    [{ rotation: [-45.5, 45] }, /rotation must be integers/],
    [{ searchFlipP: 1.5 }, /searchFlipP must be a probability/],
    [{ searchFlipP: Number.NaN }, /searchFlipP/],
    [{ augment: 'yes' }, /augment must be a boolean/],
    [{ searchSzie: 224 }, /unknown field searchSzie/],
  ];
  for (const [o, re] of bad) assert.throws(() => samplerConfig(o as never), re);
});
