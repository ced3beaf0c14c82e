import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '@cim-forge/cim';
import { mixupCutmix, randAugmentLite, randomErase, sampleBeta, softTargets } from './augment.ts';
import { stratifiedSubset } from './labelled-data.ts';

/** B images whose every pixel holds its own index: mixing is then readable from the pixels. */
function indexBatch(b: number, s: number): Float32Array {
  const x = new Float32Array(b * s * s * 3);
  for (let i = 0; i < b; i++) x.fill(i, i * s * s * 3, (i + 1) * s * s * 3);
  return x;
}

test('soft targets: rows sum to 1, own label λ·(1−ε)+ε/K, partner (1−λ)·(1−ε)+ε/K', () => {
  const t = softTargets([0, 1, 2, 3], 10, 0.1, 0.7);
  for (let i = 0; i < 4; i++) {
    const row = t.subarray(i * 10, (i + 1) * 10);
    assert.ok(Math.abs(row.reduce((a, v) => a + v, 0) - 1) < 1e-6);
  }
  assert.ok(Math.abs(t[0] - (0.7 * 0.9 + 0.01)) < 1e-7);
  assert.ok(Math.abs(t[3] - (0.3 * 0.9 + 0.01)) < 1e-7, 'sample 0 is mixed with sample 3');
  assert.ok(Math.abs(t[5] - 0.01) < 1e-7);
});

test('mixup: pixels are λ·own + (1−λ)·partner, and the label mass matches', () => {
  const b = 4;
  const s = 4;
  const x = indexBatch(b, s);
  const r = mixupCutmix(x, b, s, { mixup: 0.8, cutmix: 0, prob: 1, switchProb: 0.5 }, new Rng(3));
  assert.equal(r.kind, 'mixup');
  assert.ok(r.lam > 0 && r.lam < 1);
  assert.ok(Math.abs(x[0] - (r.lam * 0 + (1 - r.lam) * 3)) < 1e-5);
  assert.ok(Math.abs(x[s * s * 3] - (r.lam * 1 + (1 - r.lam) * 2)) < 1e-5);
});

test('cutmix: λ equals the fraction of each image kept, over many draws; targets sum to 1', () => {
  const b = 2;
  const s = 16;
  let draws = 0;
  for (let seed = 0; seed < 40; seed++) {
    const x = indexBatch(b, s);
    const r = mixupCutmix(x, b, s, { mixup: 0.8, cutmix: 1, prob: 1, switchProb: 0.5 }, new Rng(seed));
    if (r.kind !== 'cutmix') continue;
    draws++;
    let own = 0;
    for (let k = 0; k < s * s * 3; k += 3) if (x[k] === 0) own++;
    assert.ok(Math.abs(own / (s * s) - r.lam) < 1e-9, `λ ${r.lam} vs kept ${own / (s * s)}`);
    const t = softTargets([0, 1], 2, 0.1, r.lam);
    assert.ok(Math.abs(t[0] + t[1] - 1) < 1e-6 && Math.abs(t[2] + t[3] - 1) < 1e-6);
  }
  assert.ok(draws >= 10 && draws <= 30, `switch probability 0.5 → about half cutmix, got ${draws}/40`);
});

test('Beta(0.8, 0.8) samples: mean 0.5, variance 1/(4·2.6)', () => {
  const rng = new Rng(1);
  const n = 4000;
  const xs = Array.from({ length: n }, () => sampleBeta(0.8, 0.8, rng));
  const mean = xs.reduce((a, v) => a + v, 0) / n;
  const v = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / n;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(v - 1 / (4 * 2.6)) < 0.01, `var ${v}`);
});

test('random erasing: p = 0 never, p = 1 always erases a 2%–33% box; RandAugment keeps values in 0..1', () => {
  const s = 16;
  const img = new Float32Array(s * s * 3).fill(5);
  assert.equal(randomErase(img, s, 0, new Rng(1)), false);
  assert.equal(randomErase(img, s, 1, new Rng(1)), true);
  let changed = 0;
  for (let k = 0; k < img.length; k += 3) if (img[k] !== 5) changed++;
  assert.ok(changed / (s * s) >= 0.015 && changed / (s * s) <= 0.34, `erased ${changed / (s * s)}`);
  const u = new Float32Array(s * s * 3).map((_, i) => (i % 7) / 7);
  const before = u.slice();
  randAugmentLite(u, s, { n: 3, m: 9, mstd: 0.5 }, new Rng(2));
  assert.ok(u.every((v) => v >= 0 && v <= 1));
  assert.ok(u.some((v, i) => v !== before[i]));
});

test('labelsFraction 0.1 picks 10% of each class, deterministically by seed', () => {
  const labels = Array.from({ length: 1000 }, (_, i) => i % 10);
  const a = stratifiedSubset(labels, 0.1, 7);
  assert.equal(a.length, 100);
  const perClass = new Array(10).fill(0);
  for (const i of a) perClass[labels[i]]++;
  assert.deepEqual(perClass, new Array(10).fill(10));
  assert.deepEqual(stratifiedSubset(labels, 0.1, 7), a);
  assert.notDeepEqual(stratifiedSubset(labels, 0.1, 8), a);
  assert.equal(stratifiedSubset(labels, 1, 7).length, 1000);
});
