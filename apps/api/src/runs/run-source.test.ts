import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickBest } from './run-source.ts';

const cp = (id: string, step: number, metrics: unknown) => ({ id, step, uri: `s3://b/${id}`, metrics });
// newest first, as the resolver passes them
const complete = [cp('c30', 30, { loss: 0.5, top1: 0.61 }), cp('c20', 20, { loss: 0.3, 'val/top1': 0.7 }), cp('c10', 10, { loss: 0.4, top1: 0.65 })];

test('best: lowest loss for a pretrain source, highest top1 (or val/top1) otherwise', () => {
  assert.equal(pickBest('pretrain', complete).id, 'c20');
  assert.equal(pickBest('finetune', complete).id, 'c20');
  assert.equal(pickBest('finetune', complete.filter((c) => c.id !== 'c20')).id, 'c10');
});

test('best falls back to the latest when no checkpoint has the metric', () => {
  const bare = [cp('c3', 3, null), cp('c2', 2, { loss: 'NaN' }), cp('c1', 1, {})];
  assert.equal(pickBest('pretrain', bare).id, 'c3');
  assert.equal(pickBest('eval', bare).id, 'c3');
});
