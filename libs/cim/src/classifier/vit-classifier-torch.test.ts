/**
 * The ViT classifier against a plain-PyTorch reference of timm's VisionTransformer with global
 * pooling (scripts/reference/torch_vit_classifier.py; Debian ships python3-torch, not timm): the
 * same weights (VitClassifier.stateDict, PyTorch names and layouts), images and labels; logits,
 * the cross-entropy and the gradient of every trainable parameter compared. Skips, saying why,
 * when /usr/bin/python3 cannot import torch (apt-get install python3-torch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.ts';
import { assignValues } from '../nn/tensors.ts';
import { fromTorch } from '../nn/params.ts';
import { VitClassifier, type VitClassifierConfig } from './vit-classifier.ts';
import { initTestBackend } from '../testing/index.ts';

await initTestBackend();

const PYTHON = '/usr/bin/python3';
const SCRIPT = resolve(fileURLToPath(import.meta.url), '../../../../../scripts/reference/torch_vit_classifier.py');
const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const noTorch =
  probe.status === 0
    ? false
    : `${PYTHON} cannot import torch (${(probe.error?.message ?? probe.stderr.trim().split('\n').pop()) || 'unknown'}); apt-get install python3-torch`;

const config: VitClassifierConfig = {
  imgSize: 16,
  patchSize: 4,
  embedDim: 24,
  depth: 2,
  numHeads: 3,
  mlpRatio: 4,
  numClasses: 5,
  dropPath: 0,
};

function normals(n: number, std: number, rng: Rng): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = std * rng.normal();
  return v;
}

/** max |a − b| relative to b's largest magnitude (the parity fixture's tolerance) */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-12);
}

test('ViT classifier (global pool) = PyTorch reference: logits, loss and every gradient', { skip: noTorch }, async () => {
  const clf = new VitClassifier(config, 3);
  const rng = new Rng(11);
  // a head far from its 2e-5 init and non-trivial norms, so every gradient is well above float noise
  for (const s of clf.specs) {
    if (s.name === 'head.weight') assignValues(clf.p(s.name), fromTorch(s, normals(5 * 24, 0.3, rng)));
    if (/norm\d?\.weight$/.test(s.name))
      assignValues(
        clf.p(s.name),
        normals(24, 0.2, rng).map((v) => 1 + v),
      );
    if (/norm\d?\.bias$|head\.bias/.test(s.name)) assignValues(clf.p(s.name), normals(s.torchShape[0], 0.1, rng));
  }
  const N = 4;
  const images = normals(N * 16 * 16 * 3, 1, rng);
  const labels = [0, 3, 4, 1];
  const x = tf.tensor4d(images, [N, 16, 16, 3]);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 5);
  const names = clf.trainableNames();
  const { value, grads } = tf.variableGrads(
    () => {
      const l = clf.forward(x);
      return tf.losses.softmaxCrossEntropy(y, l) as tf.Scalar;
    },
    names.map((n) => clf.p(n)),
  );
  const logits = clf.forward(x);
  const ours = { logits: await logits.data(), loss: (await value.data())[0] };

  const sd = await clf.stateDict();
  const dir = await mkdtemp(join(tmpdir(), 'vit-ref-'));
  try {
    const file = join(dir, 'in.json');
    const params = Object.fromEntries([...sd].map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data) }]));
    await writeFile(file, JSON.stringify({ config, params, images: { shape: [N, 16, 16, 3], data: Array.from(images) }, labels }));
    const r = spawnSync(PYTHON, [SCRIPT, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    const ref = JSON.parse(r.stdout) as { logits: number[]; loss: number; grads: Record<string, number[]> };

    assert.ok(Math.abs(ours.loss - ref.loss) < 1e-4, `loss ${ours.loss} vs ${ref.loss}`);
    assert.ok(ref.loss > 0.5, `a loss far from 0 (${ref.loss})`);
    for (let i = 0; i < ref.logits.length; i++)
      assert.ok(Math.abs(ours.logits[i] - ref.logits[i]) < 1e-4, `logit ${i}: ${ours.logits[i]} vs ${ref.logits[i]}`);
    // the same trainable set: everything but the encoder's final norm (and the pos_embed buffer)
    assert.deepEqual(Object.keys(ref.grads).sort(), [...names].sort());
    for (const [i, n] of names.entries()) {
      const spec = clf.specs.find((s) => s.name === n)!;
      const g = grads[clf.p(n).name];
      const want = fromTorch(spec, Float32Array.from(ref.grads[n]));
      const e = relErr(await g.data(), want);
      assert.ok(e < 1e-4, `gradient of ${n} (#${i}): relative error ${e.toExponential(2)}`);
      assert.ok(
        want.some((v) => Math.abs(v) > 1e-6),
        `gradient of ${n} is not all ~0`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    tf.dispose([x, y, value, logits, ...Object.values(grads)]);
    clf.dispose();
  }
});
