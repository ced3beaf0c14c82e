import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultEvalConfig, finetunePresets, presets, resolveFinetuneConfig, resolvePretrainConfig } from '@cim-forge/config';
import { HttpError } from '../http-error.ts';
import { checkShape, evalConfigShape, finetuneConfigShape, pretrainConfigShape, type Shape } from './config-shape.ts';

const refusal = (value: unknown, shape: Shape): string => {
  try {
    checkShape(value, shape, 'body/config');
  } catch (err) {
    assert.ok(err instanceof HttpError && err.statusCode === 400);
    return err.message;
  }
  return 'accepted';
};

test('every resolved preset config round-trips (initFrom: null is fine, a value is not)', () => {
  for (const name of Object.keys(presets)) assert.equal(refusal(resolvePretrainConfig(name), pretrainConfigShape), 'accepted', name);
  for (const p of Object.values(finetunePresets)) assert.equal(refusal(resolveFinetuneConfig(p.config), finetuneConfigShape), 'accepted');
  assert.equal(refusal(defaultEvalConfig, evalConfigShape), 'accepted');
  assert.equal(refusal({ initFrom: 'x.safetensors' }, finetuneConfigShape), "body/config/initFrom is not accepted: weights come only from the run's source");
});

test('types, nested keys, datasets and limits are refused with the field named', () => {
  assert.equal(refusal({ clipGrad: '1' }, pretrainConfigShape), 'body/config/clipGrad must be a number, got "1"');
  assert.equal(refusal({ clipGrad: null }, pretrainConfigShape), 'accepted');
  assert.equal(refusal({ sampler: { searchSize: 64, zoom: 2 } }, pretrainConfigShape), refusal({ sampler: { zoom: 2 } }, pretrainConfigShape));
  assert.match(refusal({ sampler: { zoom: 2 } }, pretrainConfigShape), /^body\/config\/sampler has unknown field "zoom"; known: searchSize, /);
  assert.equal(refusal({ sampler: { rotation: [-45, 'x'] } }, pretrainConfigShape), 'body/config/sampler/rotation/1 must be a number, got "x"');
  assert.equal(refusal({ dataset: { kind: 'synthetic', size: 10 } }, pretrainConfigShape), 'body/config/dataset needs field "imageSize"');
  assert.equal(refusal({ dataset: { kind: 'fashion-mnist', split: 'val' } }, pretrainConfigShape), 'body/config/dataset split must be one of train, test');
  assert.match(refusal({ dataset: { kind: 'fashion-mnist', split: 'train', cacheDir: '/etc' } }, pretrainConfigShape), /has unknown field "cacheDir"/);
  assert.equal(refusal({ dataset: { kind: 'synthetic', size: 1e12, imageSize: 32, seed: 0 } }, pretrainConfigShape), 'body/config/dataset/size must be <= 100000000, got 1000000000000');
  assert.equal(refusal({ randAugment: null, imgSize: 48 }, finetuneConfigShape), 'accepted');
  assert.equal(refusal({ randAugment: { n: 2, m: 9, mstd: 0.5, p: 1 } }, finetuneConfigShape).startsWith('body/config/randAugment has unknown field "p"'), true);
  assert.equal(refusal({ corruptions: ['contrast', 3] }, evalConfigShape), 'body/config/corruptions/1 must be a string, got 3');
  assert.equal(refusal({ images: 1e9 }, evalConfigShape), 'body/config/images must be <= 100000000, got 1000000000');
  assert.equal(refusal({ modelOverrides: { depth: 1e6 } }, pretrainConfigShape), 'body/config/modelOverrides/depth must be <= 256, got 1000000');
  assert.equal(refusal([], pretrainConfigShape), 'body/config must be an object, got []');
});
