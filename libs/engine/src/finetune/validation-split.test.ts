import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitValidation, validationIndices } from './validation-split.ts';

test('validation split: stratified (round(f·count) per class), disjoint, seeded, original order kept', () => {
  // 3 classes with 10, 20, 30 images, interleaved
  const labels: number[] = [];
  for (let i = 0; i < 60; i++) labels.push(i < 30 ? i % 3 : 2 - (i % 2));
  const counts = [0, 0, 0];
  for (const l of labels) counts[l]++;
  const { train, val } = validationIndices(labels, 0.1, 0);
  const valCounts = [0, 0, 0];
  for (const i of val) valCounts[labels[i]]++;
  assert.deepEqual(
    valCounts,
    counts.map((c) => Math.max(1, Math.round(0.1 * c))),
  );
  assert.equal(train.length + val.length, 60);
  assert.equal(new Set([...train, ...val]).size, 60);
  assert.deepEqual(
    val,
    [...val].sort((a, b) => a - b),
  );
  assert.deepEqual(validationIndices(labels, 0.1, 0), { train, val }, 'same seed, same split');
  assert.notDeepEqual(validationIndices(labels, 0.1, 1).val, val, 'another seed, another split');
  assert.throws(() => validationIndices(labels, 1, 0), /\(0, 1\)/);

  const side = 2;
  const pixels = Uint8Array.from({ length: 60 * side * side * 3 }, (_, k) => Math.floor(k / (side * side * 3)));
  const parts = splitValidation({ name: 'toy', size: 60, side, numClasses: 3, pixels, labels: Int32Array.from(labels) }, 0.1, 0);
  assert.equal(parts.val.size, val.length);
  assert.equal(parts.train.size, train.length);
  // image k of the validation part is the original image val[k] (its pixels hold its index)
  assert.equal(parts.val.pixels[0], val[0]);
  assert.equal(parts.val.pixels[(val.length - 1) * 12], val.at(-1));
  assert.equal(parts.val.labels[1], labels[val[1]]);
});
