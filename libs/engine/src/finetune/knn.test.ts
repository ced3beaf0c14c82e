import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initTestBackend } from '@cim-forge/cim/testing';
import { knnPredict, knnTop1 } from './knn.ts';

await initTestBackend();

// five 2-d training features: classes 0 (near +x), 1 (near +y), 2 (−x)
const train = Float32Array.from([1, 0, 2, 0.2, 0, 1, 0.1, 3, -1, 0]);
const labels = [0, 0, 1, 1, 2];
// cosine similarities, by hand (features L2-normalised first):
//   q1 = (1, 0.9):   a .743, b .806, c .669, d .693, e −.743 → top 3: b0 a0 d1        → 0
//   q2 = (0.2, 1):   a .196, b .293, c .981, d .987, e −.196 → top 3: d1 c1 b0        → 1
//   q3 = (−1, 0.05): e .999, c .050, d .017, b −.989, a −.999 → top 3: e2 c1 d1
//     majority (T = 0) → 1; weighted exp(s/0.07): 1.6e6 for class 2 vs 2.1 + 1.3 for class 1 → 2
const query = Float32Array.from([1, 0.9, 0.2, 1, -1, 0.05]);

test('k-NN, hand-computed: k = 3, cosine; majority vs exp(s/T) weighting', async () => {
  assert.deepEqual([...(await knnPredict(train, labels, query, 2, { k: 3, temperature: 0, numClasses: 3 }))], [0, 1, 1]);
  assert.deepEqual([...(await knnPredict(train, labels, query, 2, { k: 3, temperature: 0.07, numClasses: 3 }))], [0, 1, 2]);
  // k = 1: the nearest neighbour alone (b, d, e)
  assert.deepEqual([...(await knnPredict(train, labels, query, 2, { k: 1, temperature: 0, numClasses: 3, chunk: 2 }))], [0, 1, 2]);
  // k larger than the bank: all five vote; majority ties 0 vs 1 (2 each) → the smaller index
  assert.deepEqual([...(await knnPredict(train, labels, query, 2, { k: 20, temperature: 0, numClasses: 3 }))], [0, 0, 0]);
  assert.equal(await knnTop1(train, labels, query, [0, 1, 2], 2, { k: 3, temperature: 0, numClasses: 3 }), 2 / 3);
  // scale does not matter (cosine): features ×7 give the same answer
  assert.deepEqual(
    [
      ...(await knnPredict(
        train.map((v) => 7 * v),
        labels,
        query,
        2,
        { k: 3, temperature: 0.07, numClasses: 3 },
      )),
    ],
    [0, 1, 2],
  );
});
