import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { CimViT } from '../vit/cim-vit.ts';
import { cimVitMicroPatch4 } from '../vit/config.ts';
import { Rng } from '../rng.ts';
import { correlationDecoderSpecs, correlationLoss, decoderPosEmbed, forwardCorrelationDecoder } from './correlation-decoder.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  return tf.tensor(v, shape);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test("the decoder and loss equal CimViT's forwardCorrelationDecoder and forwardLoss within 1e-5", (t) => {
  // a CimViT whose context grid is 4×4 (32 px / patch 8), like cimResnetMicro's ResNet grid
  const vit = new CimViT(
    cimVitMicroPatch4({ patchSize: 8, embedDim: 32, depth: 1, numHeads: 2, decoderEmbedDim: 32, decoderNumHeads: 4, numTemplates: 3 }),
    11,
  );
  const c = vit.config;
  const specs = correlationDecoderSpecs(c.embedDim, c.decoderEmbedDim, c.decoderNumHeads, c.mlpRatio);
  const vitDecoder = vit.specs.filter((s) => s.role === 'decoder');
  assert.deepEqual(
    specs.map((s) => [s.name, s.torchShape.join('×'), s.trainable, s.decay]),
    vitDecoder.map((s) => [s.name, s.torchShape.join('×'), s.trainable, s.decay]),
  );

  const pos = decoderPosEmbed(c.decoderEmbedDim, 4);
  assert.equal(maxAbsDiff(pos.dataSync(), vit.buffers().decoderPosEmbed), 0);
  const [B, T] = [2, 3];
  const ctx = randn([B, 17, c.embedDim], 1) as tf.Tensor3D;
  const tmpl = randn([T * B, 5, c.embedDim], 2) as tf.Tensor3D;
  const ours = forwardCorrelationDecoder(
    vit.p.bind(vit),
    pos,
    { decoderEmbedDim: c.decoderEmbedDim, decoderNumHeads: c.decoderNumHeads, grid: 4, contextSize: 32 },
    ctx,
    tmpl,
  );
  const ref = vit.forwardCorrelationDecoder(ctx, tmpl);
  assert.deepEqual(ours.shape, [T * B, 32, 32, 2]);
  const d = maxAbsDiff(ours.dataSync(), ref.dataSync());
  assert.ok(d < 1e-5, `logits max |Δ| ${d}`);

  const masks = tf.cast(tf.greater(randn([T * B, 32, 32], 3), 0.5), 'float32') as tf.Tensor3D;
  const l1 = correlationLoss(ours, masks, B).dataSync()[0];
  const l2 = vit.forwardLoss(ref, masks, B).dataSync()[0];
  assert.ok(Math.abs(l1 - l2) < 1e-5, `loss ${l1} vs ${l2}`);
  t.diagnostic(`logits max |Δ| ${d.toExponential(2)}; loss ${l1.toFixed(6)} vs CimViT ${l2.toFixed(6)}`);
  tf.dispose([pos, ctx, tmpl, ours, ref, masks]);
  vit.dispose();
});
