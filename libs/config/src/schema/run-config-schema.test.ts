import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cimModelConfig } from '@cim-forge/cim/config';
import {
  defaultEvalConfig,
  evalPresets,
  finetunePresets,
  presets,
  resolveEvalConfig,
  resolveFinetuneConfig,
  resolvePretrainConfig,
} from '../index.ts';
import { checkRunConfigInput, parseRunConfig, runConfigSchemas } from './run-config-schema.ts';

test('every preset resolves to a config its kind accepts, and parses back unchanged', () => {
  for (const name of Object.keys(presets)) {
    const c = resolvePretrainConfig(name);
    assert.equal(checkRunConfigInput('pretrain', c), null, name);
    assert.deepEqual(parseRunConfig('pretrain', c), c, name);
  }
  for (const p of Object.values(finetunePresets))
    assert.deepEqual(parseRunConfig('finetune', resolveFinetuneConfig(p.config)), resolveFinetuneConfig(p.config));
  for (const p of Object.values(evalPresets))
    assert.deepEqual(parseRunConfig('eval', resolveEvalConfig(p.config)), resolveEvalConfig(p.config));
  assert.deepEqual(parseRunConfig('eval', {}), defaultEvalConfig);
});

test('a config saved before a field existed gets its default; a bad stored value is an error naming it', () => {
  const saved: Record<string, unknown> = { ...resolvePretrainConfig('smoke') };
  delete saved.keepBest;
  assert.equal(parseRunConfig('pretrain', saved).keepBest, 1);
  assert.throws(() => parseRunConfig('pretrain', { ...saved, batchSize: 1e9 }), { message: 'pretrain config/batchSize must be <= 4096' });
  assert.throws(() => parseRunConfig('pretrain', { ...saved, warmupEpochs: 5 }), {
    message: 'config: warmupEpochs must be in [0, epochs], got 5',
  });
  assert.throws(() => parseRunConfig('finetune', 'x'), { message: 'finetune config: must be an object' });
});

test('every numeric field of every kind has a minimum and a maximum', () => {
  const unbounded: string[] = [];
  const walk = (s: Record<string, unknown>, path: string) => {
    if (s.type === 'number' || s.type === 'integer') {
      if (s.minimum === undefined && s.exclusiveMinimum === undefined) unbounded.push(`${path} (no minimum)`);
      if (s.maximum === undefined && s.exclusiveMaximum === undefined) unbounded.push(`${path} (no maximum)`);
    }
    for (const [k, v] of Object.entries(s)) {
      if (v && typeof v === 'object') walk(v as Record<string, unknown>, `${path}/${k}`);
    }
  };
  for (const [kind, schema] of Object.entries(runConfigSchemas)) walk(schema as unknown as Record<string, unknown>, kind);
  assert.deepEqual(unbounded, []);
});

test('inherited property names are neither models, presets nor override keys', () => {
  assert.match(
    checkRunConfigInput('pretrain', { model: 'constructor' }) ?? '',
    /^config\/model must be equal to one of the allowed values/,
  );
  assert.equal(
    checkRunConfigInput('pretrain', { modelOverrides: { toString: 1 } }),
    'config/modelOverrides/toString is not allowed (unknown field)',
  );
  assert.throws(() => cimModelConfig('constructor' as never), /unknown model "constructor"/);
  assert.throws(() => cimModelConfig('cimVitMicroPatch4', { toString: 1 } as never), /unknown field\(s\) toString/);
  assert.throws(() => cimModelConfig('cimResnetMicro', { backbone: { hasOwnProperty: 1 } } as never), /unknown field\(s\) hasOwnProperty/);
  assert.throws(() => resolvePretrainConfig('constructor'), /unknown preset "constructor"/);
  assert.throws(() => resolveFinetuneConfig({ model: 'valueOf' as never }), /unknown model valueOf/);
});

test('union fields report the branch the value meant', () => {
  assert.equal(
    checkRunConfigInput('pretrain', { dataset: { kind: 'synthetic', size: 10 } }),
    'config/dataset must have required properties imageSize, seed',
  );
  assert.equal(
    checkRunConfigInput('pretrain', { dataset: { kind: 'fashion-mnist', split: 'val' } }),
    'config/dataset/split must be equal to one of the allowed values: "train", "test"',
  );
  assert.equal(
    checkRunConfigInput('finetune', { randAugment: { n: 2, m: 1, mstd: 0, p: 1 } }),
    'config/randAugment/p is not allowed (unknown field)',
  );
  assert.equal(checkRunConfigInput('pretrain', { clipGrad: -1 }), 'config/clipGrad must be > 0');
  assert.equal(checkRunConfigInput('finetune', { imgSize: null, randAugment: null }), null);
});
