import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCheckpointStore } from './checkpoint-store.ts';
import { applyRetention } from './retention.ts';

const state = (loss: number) => new TextEncoder().encode(JSON.stringify({ metrics: { loss } }));

test('retention keeps the newest K and the best M by loss, and removes the rest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cim-retention-'));
  try {
    const store = new LocalCheckpointStore(dir);
    // steps 1..6; the lowest loss is at step 2, the second lowest at step 4
    const losses = [5, 0.5, 4, 0.9, 3, 2];
    for (let i = 0; i < losses.length; i++) await store.write(`step-${i + 1}`, i + 1, { 'state.json': state(losses[i]) });
    const removed = await applyRetention(store, { keepLatest: 2, keepBest: 1, metric: 'loss', better: 'lower' });
    assert.deepEqual(removed, ['step-1', 'step-3', 'step-4']);
    assert.deepEqual(
      (await store.list()).map((m) => m.id),
      ['step-2', 'step-5', 'step-6'],
    );
    // best 2 (higher is better): the two largest values among what is left, plus the newest 1
    const removed2 = await applyRetention(store, { keepLatest: 1, keepBest: 1, metric: 'loss', better: 'higher' });
    assert.deepEqual(removed2, ['step-2']);
    assert.deepEqual(
      (await store.list()).map((m) => m.id),
      ['step-5', 'step-6'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('retention: a checkpoint whose state cannot be read is never the best; keepBest 0 keeps only the newest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cim-retention-'));
  try {
    const store = new LocalCheckpointStore(dir);
    await store.write('a', 1, { 'state.json': new TextEncoder().encode('{not json') });
    await store.write('b', 2, { 'state.json': state(1) });
    await store.write('c', 3, { 'state.json': state(2) });
    assert.deepEqual(await applyRetention(store, { keepLatest: 1, keepBest: 1, metric: 'loss', better: 'lower' }), ['a']);
    assert.deepEqual(await applyRetention(store, { keepLatest: 1, keepBest: 0, metric: 'loss', better: 'lower' }), ['b']);
    assert.deepEqual(
      (await store.list()).map((m) => m.id),
      ['c'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
