import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../rng.ts';
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  augmentExemplar,
  flipHorizontal,
  gaussianBlur,
  solarize,
  toGrayscale,
} from './augment.ts';

const px = (...rgb: number[]): Float32Array => new Float32Array(rgb);

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-3): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
}

test('colour ops follow Pillow ImageEnhance / torchvision', () => {
  const a = px(100, 150, 200);
  adjustBrightness(a, 1.5);
  close(a, [150, 225, 255]); // clipped
  // contrast blends with the rounded mean luma: (0.299·100 + 0.587·150 + 0.114·200) = 140.75 → 141
  const b = px(100, 150, 200);
  adjustContrast(b, 0.5);
  close(b, [120.5, 145.5, 170.5]);
  // saturation 0 is grayscale (luma 140.75)
  const c = px(100, 150, 200);
  adjustSaturation(c, 0);
  close(c, [140.75, 140.75, 140.75]);
  const g = px(255, 0, 0, 10, 20, 30);
  toGrayscale(g);
  close(g, [76.245, 76.245, 76.245, 18.15, 18.15, 18.15]);
});

test('hue: a third of a turn maps red → green → blue; grey is unchanged; shift 0 is identity', () => {
  const a = px(255, 0, 0, 0, 255, 0, 90, 90, 90);
  adjustHue(a, 1 / 3);
  close(a, [0, 255, 0, 0, 0, 255, 90, 90, 90]);
  const b = px(200, 120, 40, 13, 77, 201);
  adjustHue(b, 0);
  close(b, [200, 120, 40, 13, 77, 201]);
  const c = px(200, 120, 40);
  adjustHue(c, 0.1);
  adjustHue(c, -0.1);
  close(c, [200, 120, 40]);
});

test('solarize inverts values >= 128 only', () => {
  const a = px(0, 127, 128, 200, 255, 100);
  solarize(a);
  close(a, [0, 127, 127, 55, 0, 100]);
});

test('gaussian blur keeps constants and the mean, and lowers the variance', () => {
  const size = 16;
  const flat = new Float32Array(size * size * 3).fill(77);
  gaussianBlur(flat, size, 1.7);
  close(flat, new Float32Array(size * size * 3).fill(77));
  const img = new Float32Array(size * size * 3);
  const rng = new Rng(3);
  for (let i = 0; i < img.length; i++) img[i] = rng.uniform(0, 255);
  const stats = (v: Float32Array): [number, number] => {
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    return [m, v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length];
  };
  const [m0, v0] = stats(img);
  gaussianBlur(img, size, 1.5);
  const [m1, v1] = stats(img);
  assert.ok(Math.abs(m0 - m1) < 1.5, `mean ${m0} → ${m1}`);
  assert.ok(v1 < v0 / 10, `variance ${v0} → ${v1}`);
});

test('flipHorizontal mirrors rows; twice is identity', () => {
  const a = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]); // 3×2
  flipHorizontal(a, 3, 2);
  assert.deepEqual([...a], [7, 8, 9, 4, 5, 6, 1, 2, 3, 16, 17, 18, 13, 14, 15, 10, 11, 12]);
  flipHorizontal(a, 3, 2);
  assert.deepEqual([...a], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
});

test('augmentExemplar: probabilities 0.8 / 0.2 / 0.5 / 0.2 / 0.5, sigma and factor ranges, deterministic', () => {
  const rng = new Rng(11);
  const n = 3000;
  const hits = { jitter: 0, gray: 0, blur: 0, solarize: 0, flip: 0 };
  const img = new Float32Array(4 * 4 * 3);
  for (let i = 0; i < n; i++) {
    img.fill(128);
    const r = augmentExemplar(img, 4, rng);
    if (r.colorJitter) {
      hits.jitter++;
      const { brightness, contrast, saturation, hue, order } = r.colorJitter;
      assert.ok(brightness >= 0.6 && brightness < 1.4 && contrast >= 0.6 && contrast < 1.4);
      assert.ok(saturation >= 0.8 && saturation < 1.2 && hue >= -0.1 && hue < 0.1);
      assert.deepEqual([...order].sort(), [0, 1, 2, 3]);
    }
    if (r.grayscale) hits.gray++;
    if (r.blurSigma !== null) {
      hits.blur++;
      assert.ok(r.blurSigma >= 0.1 && r.blurSigma < 2);
    }
    if (r.solarize) hits.solarize++;
    if (r.flipped) hits.flip++;
  }
  const near = (k: number, p: number): boolean => Math.abs(k / n - p) < 4 * Math.sqrt((p * (1 - p)) / n);
  assert.ok(near(hits.jitter, 0.8) && near(hits.gray, 0.2) && near(hits.blur, 0.5), JSON.stringify(hits));
  assert.ok(near(hits.solarize, 0.2) && near(hits.flip, 0.5), JSON.stringify(hits));

  const base = new Float32Array(8 * 8 * 3).map((_, i) => (i * 37) % 256);
  const a = base.slice();
  const b = base.slice();
  augmentExemplar(a, 8, new Rng(5));
  augmentExemplar(b, 8, new Rng(5));
  assert.deepEqual(a, b);
});
