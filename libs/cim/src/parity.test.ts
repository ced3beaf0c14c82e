import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { parityTolerances, runParity } from './parity.ts';
import { initTestBackend, PARITY_FIXTURE } from './testing/index.ts';

const backend = await initTestBackend();

test(`parity with the authors' PyTorch fixture on ${backend}: forward, loss, gradients, one AdamW step, momentum`, async (t) => {
  const before = tf.memory().numTensors;
  const report = await runParity(new Uint8Array(readFileSync(PARITY_FIXTURE)), 'fixture');
  t.diagnostic(
    `${backend}: ${JSON.stringify({ logits: report.logits, loss: report.loss, grads: report.grads, after_step: report.after_step })}`,
  );
  assert.equal(report.ok, true, JSON.stringify(report));
  for (const k of ['logits', 'loss', 'grads', 'after_step'] as const) {
    assert.ok(report[k] >= 0 && report[k] <= parityTolerances[k], `${k} = ${report[k]}`);
  }
  assert.equal(report.config.depth, 2);
  assert.equal(tf.memory().numTensors, before, 'runParity leaves no tensors behind');
});
