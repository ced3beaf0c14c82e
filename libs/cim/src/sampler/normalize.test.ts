import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denormalizeToRgb, normalizeRgb } from './normalize.ts';

test('ImageNet normalization: golden values', () => {
  const out = normalizeRgb(new Uint8Array([255, 0, 128]));
  assert.ok(Math.abs(out[0] - (1 - 0.485) / 0.229) < 1e-5); // 2.2489
  assert.ok(Math.abs(out[1] - -0.456 / 0.224) < 1e-5); // -2.0357
  assert.ok(Math.abs(out[2] - (128 / 255 - 0.406) / 0.225) < 1e-5); // 0.4265
  const unit = normalizeRgb(new Float32Array([1, 0, 0.5]), undefined, 1);
  assert.ok(Math.abs(unit[0] - out[0]) < 1e-5 && Math.abs(unit[1] - out[1]) < 1e-5);
});

test('normalize → denormalize round-trips every 8-bit value exactly; in place works', () => {
  const src = new Uint8Array(256 * 3).map((_, i) => Math.floor(i / 3));
  const norm = normalizeRgb(src);
  assert.deepEqual(denormalizeToRgb(norm), src);
  const f = Float32Array.from(src);
  normalizeRgb(f, f);
  assert.deepEqual(f, norm);
  // and out-of-range values clamp
  assert.deepEqual([...denormalizeToRgb(new Float32Array([10, -10, 0]))], [255, 0, 104]);
});
