import assert from 'node:assert/strict';
import { test } from 'node:test';
import { epochOrder, epochPermutation, shardPositionInEpoch, shardSize } from './epoch-order.ts';
import { hashSeeds, sampleSeed, SeededRandom } from './seeded-random.ts';

test('seeded randomness matches golden values (same in every process)', () => {
  assert.equal(hashSeeds(0), 2941772720);
  assert.equal(hashSeeds(1, 2), 1282989812);
  assert.equal(hashSeeds(2, 1), 634028125);
  assert.equal(hashSeeds(2 ** 40), 4290010768);
  assert.equal(sampleSeed(7, 3, 11), 573496783);
  const r = new SeededRandom(42);
  assert.deepEqual([r.nextUint32(), r.nextUint32(), r.nextUint32()], [3506213934, 1655835765, 779196184]);
  assert.deepEqual(Array.from(epochOrder(10, 1, 0)), [5, 0, 7, 1, 3, 2, 6, 8, 9, 4]);
});

test('SeededRandom is roughly uniform', () => {
  const r = new SeededRandom(1);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) bins[Math.floor(r.random() * 10)]++;
  for (const b of bins) assert.ok(Math.abs(b - 10_000) < 400, `bin ${b}`);
});

test('epochPermutation is a permutation, deterministic, and differs by epoch and seed', () => {
  const a = epochPermutation(1000, 5, 0);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(a, epochPermutation(1000, 5, 0));
  const differing = (x: Uint32Array, y: Uint32Array) => x.filter((v, i) => v !== y[i]).length;
  assert.ok(differing(a, epochPermutation(1000, 5, 1)) > 950);
  assert.ok(differing(a, epochPermutation(1000, 6, 0)) > 950);
});

test('rank shards are disjoint, equal, and cover the epoch except the tail', () => {
  const size = 103;
  const W = 4;
  const perm = epochPermutation(size, 9, 2);
  const shards = Array.from({ length: W }, (_, r) => epochOrder(size, 9, 2, r, W));
  assert.equal(shardSize(size, W), 25);
  for (const s of shards) assert.equal(s.length, 25);
  const all = new Set(shards.flatMap((s) => [...s]));
  assert.equal(all.size, 100);
  // what is left out is the permutation's last size mod W entries
  assert.deepEqual(new Set([...perm].filter((i) => !all.has(i))), new Set(perm.subarray(100)));
  // shard entry k is permutation position rank + k*W
  for (let r = 0; r < W; r++) {
    for (let k = 0; k < 25; k++) assert.equal(shards[r][k], perm[shardPositionInEpoch(k, r, W)]);
  }
});

test('epochOrder rejects a bad rank', () => {
  assert.throws(() => epochOrder(10, 0, 0, 2, 2), /rank 2 not in \[0, 2\)/);
});
