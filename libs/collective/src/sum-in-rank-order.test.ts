import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sumInRankOrder } from './sum-in-rank-order.ts';
import { bitsOf, randomGradients } from './test-support.ts';

test('sumInRankOrder: bit-identical to adding float32 one part after the other, then dividing, for N = 1…5', () => {
  const n = 4099;
  for (let N = 1; N <= 5; N++) {
    const parts = Array.from({ length: N }, (_, s) => randomGradients(n, 100 * N + s));
    parts[0][0] = 1e-45; // subnormals and overflow at the edges
    parts[0][1] = 3e38;
    if (N > 1) parts[1][1] = 3e38;
    for (const divisor of [1, N, 3, 4]) {
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let s = parts[0][i];
        for (let k = 1; k < N; k++) s = Math.fround(s + parts[k][i]);
        want[i] = Math.fround(s / divisor);
      }
      const got = sumInRankOrder(parts, new Float32Array(n), divisor);
      assert.ok(bitsOf(got).equals(bitsOf(want)), `N=${N} divisor=${divisor}`);
    }
  }
  assert.throws(() => sumInRankOrder([new Float32Array(2)], new Float32Array(3)), /a part has 2 elements, out 3/);
});
