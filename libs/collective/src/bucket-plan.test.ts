import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BucketPlan } from './bucket-plan.ts';

test('BucketPlan: chunks tile the array, differ by at most one element, empty only when a bucket is shorter than N', () => {
  for (const [length, N, bucketBytes] of [
    [0, 2, 16],
    [1, 4, 16],
    [3, 4, 16],
    [10, 3, 16],
    [1001, 4, 400],
    [12345, 3, 4 << 20],
  ] as const) {
    const plan = new BucketPlan(length, N, bucketBytes);
    let next = 0;
    for (let b = 0; b < plan.bucketCount; b++) {
      const sizes: number[] = [];
      for (let j = 0; j < N; j++) {
        const c = plan.chunk(b, j);
        assert.equal(c.start, next);
        next = c.end;
        sizes.push(c.end - c.start);
      }
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
      const n = sizes.reduce((a, s) => a + s, 0);
      assert.ok(n <= plan.bucketElements);
      if (n >= N) assert.ok(Math.min(...sizes) >= 1);
    }
    assert.equal(next, length, `${length} elements, N=${N}`);
  }
  const tiny = new BucketPlan(3, 4, 16);
  assert.deepEqual(
    [0, 1, 2, 3].map((j) => tiny.bucketsWithChunk(j).length),
    [0, 1, 1, 1],
  );
});
