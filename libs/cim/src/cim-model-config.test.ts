import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  architectureOf,
  cimModelConfig,
  cimModelConfigFromMetadata,
  cimModelMetadata,
  cimModelNames,
  isCimModelName,
} from './cim-model-config.ts';
import { cimVitMicroPatch4, modelConfigFromMetadata } from './vit/config.ts';
import { cimResnetMicro, resnetGrid } from './resnet/config.ts';

test('every pre-training model by name: ViTs and ResNets', () => {
  assert.deepEqual(
    cimModelNames.filter((n) => n.startsWith('cimResnet')),
    ['cimResnet50', 'cimResnetMicro'],
  );
  assert.ok(isCimModelName('cimVitMicroPatch4') && isCimModelName('cimResnetMicro') && !isCimModelName('resnet50'));
  assert.equal(architectureOf(cimModelConfig('cimVitMicroPatch4')), 'cim-vit');
  assert.equal(architectureOf(cimModelConfig('cimResnet50')), 'cim-resnet');
});

test('ResNet overrides merge into the backbone field by field; unknown fields are refused by name', () => {
  const c = cimModelConfig('cimResnetMicro', { backbone: { widths: [8, 16, 16, 32] }, decoderEmbedDim: 32 });
  assert.ok(architectureOf(c) === 'cim-resnet' && 'backbone' in c);
  assert.deepEqual(c.backbone, { ...cimResnetMicro().backbone, widths: [8, 16, 16, 32] });
  assert.equal(c.decoderEmbedDim, 32);
  assert.equal(resnetGrid(c.backbone, c.contextSize), 4);
  assert.throws(
    () => cimModelConfig('cimResnetMicro', { embedDim: 32 } as never),
    /modelOverrides of cimResnetMicro: unknown field\(s\) embedDim/,
  );
  assert.throws(
    () => cimModelConfig('cimResnetMicro', { backbone: { width: [8] } } as never),
    /modelOverrides\.backbone of cimResnetMicro: unknown field\(s\) width/,
  );
  assert.throws(
    () => cimModelConfig('cimVitMicroPatch4', { backbone: {} } as never),
    /modelOverrides of cimVitMicroPatch4: unknown field\(s\) backbone/,
  );
  assert.throws(() => cimModelConfig('cimResnetMicro', { backbone: { widths: [8, 16] } }), /same non-zero length/);
});

test('checkpoint metadata round-trips both architectures; a ViT reader refuses a ResNet by name', () => {
  const r = cimResnetMicro({ decoderEmbedDim: 32, numTemplates: 4 });
  const mr = cimModelMetadata(r);
  assert.equal(mr.architecture, 'cim-resnet');
  assert.ok(Object.values(mr).every((v) => typeof v === 'string'));
  assert.deepEqual(cimModelConfigFromMetadata(mr), r);
  const v = cimVitMicroPatch4({ depth: 2 });
  const mv = cimModelMetadata(v);
  assert.equal(mv.architecture, 'cim-vit');
  assert.deepEqual(cimModelConfigFromMetadata(mv), v);
  const { architecture: _, ...fixtureKeys } = mv;
  assert.deepEqual(cimModelConfigFromMetadata(fixtureKeys), v, "no architecture key: a ViT (the authors' fixture)");
  assert.throws(() => modelConfigFromMetadata(mr), /the weights hold a cim-resnet model, not a ViT/);
  assert.throws(() => cimModelConfigFromMetadata({ ...mr, architecture: 'cim-swin' }), /unknown architecture "cim-swin"/);
});
