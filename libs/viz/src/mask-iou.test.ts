import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maskIoU } from './mask-iou.ts';

/** A w×w mask with the rectangle [x0, x1) × [y0, y1) set. */
function rect(w: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(w * w);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

test('maskIoU on hand-made masks', () => {
  const truth = rect(10, 0, 0, 4, 4); // 16 px
  assert.equal(maskIoU(Float32Array.from(truth), truth), 1);
  // prediction 2..6 × 0..4: overlap 2×4 = 8, union 16 + 16 - 8 = 24
  assert.equal(maskIoU(Float32Array.from(rect(10, 2, 0, 6, 4)), truth), 8 / 24);
  // disjoint
  assert.equal(maskIoU(Float32Array.from(rect(10, 5, 5, 7, 7)), truth), 0);
  // nothing predicted, nothing true: perfect agreement
  assert.equal(maskIoU(new Float32Array(100), new Uint8Array(100)), 1);
});

test('maskIoU thresholds probabilities (>= threshold is foreground)', () => {
  const truth = rect(4, 0, 0, 2, 2); // pixels 0, 1, 4, 5
  const p = new Float32Array(16);
  p[0] = 0.9;
  p[1] = 0.5;
  p[4] = 0.49;
  p[6] = 0.7; // false positive
  // at 0.5: predicted {0, 1, 6}; inter 2, union {0,1,4,5,6} = 5
  assert.equal(maskIoU(p, truth), 2 / 5);
  // at 0.8: predicted {0}; inter 1, union 4
  assert.equal(maskIoU(p, truth, 0.8), 1 / 4);
  // at 0.3: predicted {0, 1, 4, 6}; inter 3, union 5
  assert.equal(maskIoU(p, truth, 0.3), 3 / 5);
});

test('maskIoU rejects mismatched lengths', () => {
  assert.throws(() => maskIoU(new Float32Array(4), new Uint8Array(5)), /prediction has 4 values but the mask has 5/);
});
