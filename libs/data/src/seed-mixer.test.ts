/**
 * The two seed mixers became one (libs/random's `mixer32`, with the constants each stream was
 * recorded with). The functions as they were before, copied here verbatim, must give the same
 * numbers for every seed: data order, per-sample seeds, synthetic images, model init and
 * sampler streams, so a fixed-seed run and its resume are what they were.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSeed, mix32, Rng } from '@cim-forge/random';
import { hashSeeds, mixUint32, sampleSeed, SeededRandom } from './seeded-random.ts';

// ── before: libs/random/src/rng.ts's mix32 and libs/data/src/seeded-random.ts's mixUint32 ──
function oldMix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
function oldMixUint32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}
function oldHashSeeds(...parts: number[]): number {
  let h = 0x1b873593;
  for (const p of parts) {
    h = oldMixUint32(h ^ (p >>> 0));
    h = oldMixUint32(h ^ (Math.floor(p / 4294967296) >>> 0) ^ 0x85ebca6b);
  }
  return h;
}
function oldDeriveSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) h = oldMix32(h ^ oldMix32(p | 0) ^ oldMix32(Math.floor(p / 2 ** 32)));
  return h;
}
/** sfc32 seeded as Rng's constructor and SeededRandom's did */
function oldStream(a: number, b: number, c: number, discard: number, n: number): number[] {
  let d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < discard; i++) next();
  return Array.from({ length: n }, next);
}
function oldRng(seed: number, n: number): number[] {
  const a = oldMix32(seed);
  const b = oldMix32(a ^ 0x6a09e667);
  return oldStream(a, b, oldMix32(b ^ 0xbb67ae85), 12, n);
}
function oldSeededRandom(seed: number, n: number): number[] {
  const a = oldMixUint32(seed);
  const b = oldMixUint32(a ^ 0x243f6a88);
  return oldStream(a, b, oldMixUint32(b ^ 0x13198a2e), 15, n);
}

const seeds = [0, 1, 2, 3, 7, 42, 1234, 0x5eed, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, -1, -42, 123_456_789, 2 ** 40 + 5];
for (let i = 0; i < 200; i++) seeds.push(oldMixUint32(i * 7919));

test('the mixers give the numbers they gave before, for every seed', () => {
  let checked = 0;
  for (const s of seeds) {
    assert.equal(mix32(s), oldMix32(s), `mix32(${s})`);
    assert.equal(mixUint32(s), oldMixUint32(s), `mixUint32(${s})`);
    checked += 2;
  }
  assert.equal(checked, seeds.length * 2);
  // the two sets of constants are different mixers (neither stream moved to the other's)
  assert.notEqual(mix32(0), mixUint32(0));
});

test('seeds derived from several integers are what they were', () => {
  for (const s of seeds.filter((x) => x >= 0)) {
    for (const [e, p] of [
      [0, 0],
      [1, 5],
      [299, 6143],
      [3, 2 ** 33],
    ]) {
      assert.equal(hashSeeds(s, e, p), oldHashSeeds(s, e, p));
      assert.equal(sampleSeed(s, e, p), oldHashSeeds(s >>> 0, e, p));
      assert.equal(deriveSeed(s, e, p), oldDeriveSeed(s, e, p));
    }
  }
  // the goldens of epoch-order.test.ts, recorded before
  assert.equal(hashSeeds(0), 2941772720);
  assert.equal(hashSeeds(1, 2), 1282989812);
});

test('Rng and SeededRandom streams are bit-identical to the old seeding, 64 draws per seed', () => {
  for (const s of seeds) {
    const r = new Rng(s);
    const d = new SeededRandom(s);
    assert.deepEqual(
      Array.from({ length: 64 }, () => r.nextUint32()),
      oldRng(s, 64),
      `Rng(${s})`,
    );
    assert.deepEqual(
      Array.from({ length: 64 }, () => d.nextUint32()),
      oldSeededRandom(s, 64),
      `SeededRandom(${s})`,
    );
  }
});
