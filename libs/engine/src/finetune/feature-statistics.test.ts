import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featureStatistics, symmetricEigenvalues } from './feature-statistics.ts';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);

test('eigenvalues of symmetric matrices (Jacobi): [[2,1],[1,2]] → 3, 1; R·diag(5,2,1)·Rᵀ → 5, 2, 1', () => {
  const e = [...symmetricEigenvalues(Float64Array.from([2, 1, 1, 2]), 2)].sort((a, b) => b - a);
  close(e[0], 3);
  close(e[1], 1);
  // R = rotation by 30° in the (0, 1) plane, then by 45° in the (1, 2) plane
  const c1 = Math.cos(Math.PI / 6),
    s1 = Math.sin(Math.PI / 6),
    c2 = Math.SQRT1_2,
    s2 = Math.SQRT1_2;
  const R = [
    [c1, -s1, 0],
    [s1 * c2, c1 * c2, -s2],
    [s1 * s2, c1 * s2, c2],
  ];
  const L = [5, 2, 1];
  const m = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) m[i * 3 + j] += R[i][k] * L[k] * R[j][k];
  const e3 = [...symmetricEigenvalues(m, 3)].sort((a, b) => b - a);
  e3.forEach((v, i) => close(v, L[i], 1e-9));
});

test('feature statistics, hand-computed: per-dimension std, shared offset, effective rank, collapse', () => {
  // ±e0, ±e1 (dimension 2 constant 5): scatter diag(2, 2, 0) → σ = √2, √2, 0 → p = ½, ½ → erank 2
  const two = featureStatistics(Float32Array.from([1, 0, 5, -1, 0, 5, 0, 1, 5, 0, -1, 5]), 3);
  close(two.perDimStd[0], Math.SQRT1_2);
  close(two.perDimStd[1], Math.SQRT1_2);
  close(two.perDimStd[2], 0);
  close(two.meanStd, (2 * Math.SQRT1_2) / 3);
  close(two.meanOffset, Math.sqrt(25 / 3));
  close(two.singularValues[0], Math.SQRT2, 1e-7);
  close(two.effectiveRank, 2, 1e-7);
  assert.equal(two.collapsed, false);
  // ±3·e0, ±e1: σ = √18, √2 → p = ¾, ¼ → erank = exp(−(¾ ln ¾ + ¼ ln ¼)) = 1.7548
  const uneven = featureStatistics(Float32Array.from([3, 0, -3, 0, 0, 1, 0, -1]), 2);
  close(uneven.effectiveRank, Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 1e-7);
  close(uneven.effectiveRank, 1.7548, 1e-4);
  assert.equal(uneven.collapsed, true);
  // every image on one line: erank 1, collapsed
  const line = featureStatistics(Float32Array.from([1, 2, -1, -2, 2, 4, -2, -4]), 2);
  close(line.effectiveRank, 1, 1e-6);
  assert.equal(line.collapsed, true);
  assert.throws(() => featureStatistics(Float32Array.from([1, 2]), 2), /at least 2 rows/);
});
