import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bicubicKernel, bicubicResampleTable, resizeBicubicFloat, resizeBicubicRgb } from './resize.ts';
import type { RgbImage } from './types.ts';

function makeImage(w: number, h: number, f: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c);
  return { width: w, height: h, data };
}

/** A high-frequency 13×11 pattern; the golden outputs below come from Pillow 12.3.0. */
const pattern = makeImage(13, 11, (x, y, c) => (x * 37 + y * 91 + c * 53 + x * y * 7) % 256);

// Golden values: Image.fromarray(pattern).resize(size, Image.BICUBIC, box=...) with Pillow 12.3.0:
// (5, 4) whole image; (9, 7) box (2, 1, 8, 6); (7, 6) box (1.5, 2.25, 11.75, 9.5).
const PIL_DOWN_5x4 = [
  108, 129, 140, 124, 137, 147, 126, 125, 132, 116, 126, 139, 121, 146, 120, 122, 144, 123, 143, 136, 124, 142, 135, 123, 126, 133, 119,
  139, 133, 139, 118, 128, 138, 125, 123, 126, 137, 127, 127, 127, 124, 118, 135, 96, 145, 154, 111, 133, 146, 125, 124, 110, 131, 137, 133,
  140, 128, 124, 120, 151,
];
const PIL_UP_9x7_BOX = [
  167, 235, 61, 213, 129, 46, 197, 23, 90, 41, 63, 119, 26, 95, 140, 69, 120, 160, 99, 139, 190, 120, 165, 234, 141, 197, 219, 101, 138, 80,
  109, 105, 101, 130, 74, 152, 70, 125, 191, 91, 172, 136, 142, 174, 81, 181, 88, 120, 126, 91, 171, 71, 137, 191, 55, 87, 164, 56, 141,
  165, 113, 173, 162, 164, 154, 210, 165, 190, 132, 162, 193, 54, 210, 71, 102, 132, 74, 100, 54, 110, 100, 123, 176, 244, 162, 231, 140,
  204, 223, 36, 254, 67, 86, 150, 59, 128, 46, 114, 170, 96, 152, 220, 138, 207, 116, 180, 199, 12, 228, 82, 110, 153, 89, 126, 76, 135,
  142, 130, 138, 196, 146, 184, 124, 162, 191, 52, 216, 77, 106, 143, 85, 122, 75, 131, 138, 174, 69, 119, 134, 99, 113, 94, 144, 103, 151,
  112, 160, 142, 148, 120, 133, 171, 80, 190, 99, 137, 158, 122, 128, 94, 159, 121, 76, 142, 188, 120, 196, 95, 164, 184, 10, 224, 51, 72,
  138, 56, 116, 52, 117, 160, 113, 155, 220, 171, 218, 136, 168, 224, 44,
];
const PIL_FRACTIONAL_BOX_7x6 = [
  97, 98, 163, 134, 167, 157, 159, 159, 124, 150, 108, 107, 106, 100, 114, 97, 150, 178, 179, 151, 116, 177, 142, 127, 140, 139, 130, 146,
  145, 120, 152, 122, 122, 142, 130, 127, 141, 131, 92, 125, 116, 186, 98, 109, 128, 152, 138, 80, 132, 105, 124, 149, 159, 149, 78, 144,
  118, 109, 157, 118, 185, 96, 51, 140, 191, 112, 71, 111, 129, 143, 164, 101, 192, 103, 130, 115, 157, 80, 171, 78, 94, 106, 140, 180, 101,
  92, 148, 157, 108, 170, 115, 91, 106, 115, 122, 169, 127, 97, 111, 120, 135, 185, 144, 60, 116, 159, 144, 156, 171, 118, 142, 113, 181,
  92, 89, 110, 156, 155, 166, 124, 88, 161, 108, 133, 105, 170,
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('bicubic kernel is Keys a = -0.5: interpolating, partition of unity', () => {
  assert.equal(bicubicKernel(0), 1);
  assert.ok(bicubicKernel(1) === 0 && bicubicKernel(2) === 0); // ±0
  assert.equal(bicubicKernel(0.5), 0.5625);
  assert.equal(bicubicKernel(1.5), -0.0625);
  for (const t of [0.1, 0.37, 0.8]) {
    const s = bicubicKernel(t + 1) + bicubicKernel(t) + bicubicKernel(1 - t) + bicubicKernel(2 - t);
    assert.ok(Math.abs(s - 1) < 1e-12);
  }
});

test('downscaling widens the kernel: support 2·scale', () => {
  const t = bicubicResampleTable(400, 0, 400, 100); // scale 4 → support 8 → up to 17 taps
  assert.equal(t.ksize, 17);
  assert.ok(t.count[50] >= 16);
  const u = bicubicResampleTable(50, 0, 50, 100); // upscaling: support 2
  assert.equal(u.ksize, 5);
});

test('matches Pillow BICUBIC within one grey level (whole image, integer box, fractional box)', () => {
  assert.ok(maxAbsDiff(resizeBicubicRgb(pattern, 5, 4).data, PIL_DOWN_5x4) <= 1);
  assert.ok(maxAbsDiff(resizeBicubicRgb(pattern, 9, 7, [2, 1, 8, 6]).data, PIL_UP_9x7_BOX) <= 1);
  assert.ok(maxAbsDiff(resizeBicubicRgb(pattern, 7, 6, [1.5, 2.25, 11.75, 9.5]).data, PIL_FRACTIONAL_BOX_7x6) <= 1);
  // and not by accident: a box shifted by one pixel is far off
  assert.ok(maxAbsDiff(resizeBicubicRgb(pattern, 9, 7, [3, 1, 9, 6]).data, PIL_UP_9x7_BOX) > 50);
});

test('same-size resize and unit-scale integer crops are exact copies', () => {
  assert.deepEqual(resizeBicubicRgb(pattern, 13, 11).data, pattern.data);
  const crop = resizeBicubicRgb(pattern, 4, 3, [5, 6, 9, 9]);
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 4; x++) {
      for (let c = 0; c < 3; c++) assert.equal(crop.data[(y * 4 + x) * 3 + c], pattern.data[((y + 6) * 13 + x + 5) * 3 + c]);
    }
  }
});

test('a linear ramp stays linear in the interior (float output, no rounding)', () => {
  const ramp = makeImage(64, 8, (x) => 2 * x + 10);
  const out = resizeBicubicFloat(ramp, 16, 2);
  // output column j samples the source at (j + 0.5)·4 (pixel-centre units) → value 2·((j + 0.5)·4 − 0.5) + 10
  for (let j = 3; j < 13; j++) assert.ok(Math.abs(out[(16 + j) * 3] - (2 * ((j + 0.5) * 4 - 0.5) + 10)) < 1e-3);
});

test('antialiasing: a 1-px checkerboard downscaled 8× is flat grey', () => {
  const checker = makeImage(64, 64, (x, y) => ((x + y) % 2 ? 255 : 0));
  const out = resizeBicubicFloat(checker, 8, 8);
  for (const v of out) assert.ok(Math.abs(v - 127.5) < 2, `got ${v}`);
});

test('uint8 output is clamped to [0, 255]; float output only with clamp255', () => {
  const step = makeImage(8, 1, (x) => (x < 4 ? 0 : 255));
  const up = resizeBicubicFloat(step, 32, 1);
  assert.ok(Math.min(...up) < -1 && Math.max(...up) > 256); // bicubic overshoot
  const clamped = resizeBicubicFloat(step, 32, 1, { clamp255: true });
  assert.ok(Math.min(...clamped) === 0 && Math.max(...clamped) === 255);
  const u8 = resizeBicubicRgb(step, 32, 1).data;
  assert.equal(Math.min(...u8), 0);
  assert.equal(Math.max(...u8), 255);
});
