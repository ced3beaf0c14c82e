import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CimViT, modelConfigFromMetadata, parseSafetensors, serializeSafetensors, cimVitMicroPatch4 } from '@cim-forge/cim';
import { loadModelSafetensors, modelToSafetensors } from './checkpoint.ts';
import { initTestBackend, PARITY_FIXTURE } from '@cim-forge/cim/testing';

await initTestBackend();
const fixturePath = PARITY_FIXTURE;

test('--init-from an official state_dict: every weight lands where PyTorch had it', async () => {
  const bytes = new Uint8Array(readFileSync(fixturePath));
  const file = parseSafetensors(bytes);
  const model = new CimViT(modelConfigFromMetadata(file.metadata), 123);
  const r = loadModelSafetensors(model, bytes, 'fixture');
  assert.equal(r.decoder, true);
  const sd = await model.stateDict();
  let compared = 0;
  for (const [name, t] of sd) {
    const golden = file.tensors.get(`weights/${name}`)!.data as Float32Array;
    assert.deepEqual(t.data, golden, name);
    compared++;
  }
  assert.equal(compared, model.specs.length);
  model.dispose();
});

test('our checkpoint format round-trips bit-exactly and carries the model config', async () => {
  const cfg = cimVitMicroPatch4({ depth: 2 });
  const a = new CimViT(cfg, 1);
  const b = new CimViT(cfg, 2);
  const bytes = await modelToSafetensors(a);
  const meta = parseSafetensors(bytes).metadata;
  assert.deepEqual(modelConfigFromMetadata(meta), cfg);
  loadModelSafetensors(b, bytes, 'a');
  const [sa, sb] = [await a.stateDict(), await b.stateDict()];
  for (const [k, v] of sa) assert.deepEqual(sb.get(k)!.data, v.data, k);
  a.dispose();
  b.dispose();
});

test('an encoder-only checkpoint fills the target from the online encoder and keeps the decoder', async () => {
  const cfg = cimVitMicroPatch4({ depth: 2 });
  const src = new CimViT(cfg, 5);
  const sd = await src.stateDict();
  const encoderOnly = [...sd].filter(([k]) => !k.startsWith('decoder') && !k.includes('_c.') && !k.startsWith('norm_c'));
  const dst = new CimViT(cfg, 6);
  const decoderBefore = (await dst.stateDict()).get('decoder_embed.weight')!.data;
  const r = loadModelSafetensors(dst, serializeSafetensors(encoderOnly.map(([k, v]) => [`model.${k}`, v])), 'encoder-only');
  assert.equal(r.decoder, false);
  const after = await dst.stateDict();
  assert.deepEqual(after.get('blocks_c.1.mlp.fc1.weight')!.data, sd.get('blocks.1.mlp.fc1.weight')!.data);
  assert.deepEqual(after.get('decoder_embed.weight')!.data, decoderBefore);
  // a checkpoint of another shape is refused with the parameter's name
  const wrong = new CimViT(cimVitMicroPatch4({ depth: 2, embedDim: 32, numHeads: 2 }), 0);
  assert.throws(
    () => loadModelSafetensors(wrong, serializeSafetensors(encoderOnly), 'x'),
    /parameter .*: checkpoint shape .* model expects/,
  );
  for (const m of [src, dst, wrong]) m.dispose();
});
