import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderSynthetic, SYNTHETIC_CLASSES, syntheticSource } from './synthetic.ts';

test('synthetic images are deterministic and depend on seed and index', () => {
  const a = syntheticSource({ size: 20, imageSize: 32, seed: 1 });
  const b = syntheticSource({ size: 20, imageSize: 32, seed: 1 });
  const c = syntheticSource({ size: 20, imageSize: 32, seed: 2 });
  const img = a.get(3) as { width: number; height: number; data: Uint8Array };
  assert.equal(img.width, 32);
  assert.equal(img.height, 32);
  assert.equal(img.data.length, 32 * 32 * 3);
  assert.deepEqual(img.data, (b.get(3) as typeof img).data);
  assert.notDeepEqual(img.data, (a.get(4) as typeof img).data);
  assert.notDeepEqual(img.data, (c.get(3) as typeof img).data);
});

test('synthetic images have structure: spread of intensities, neighbours correlated', () => {
  const s = syntheticSource({ size: 50, imageSize: 48, seed: 7 });
  let std = 0;
  let neighbourCorr = 0;
  for (let i = 0; i < s.size; i++) {
    const { data } = s.get(i) as { data: Uint8Array };
    const n = data.length;
    const mean = data.reduce((a, v) => a + v, 0) / n;
    let v2 = 0;
    let cov = 0;
    for (let j = 0; j < n - 3; j++) {
      v2 += (data[j] - mean) ** 2;
      cov += (data[j] - mean) * (data[j + 3] - mean); // horizontally adjacent pixel, same channel
    }
    std += Math.sqrt(v2 / n) / s.size;
    neighbourCorr += cov / v2 / s.size;
  }
  assert.ok(std > 30, `mean per-image std ${std.toFixed(1)}`);
  assert.ok(neighbourCorr > 0.8, `mean neighbour correlation ${neighbourCorr.toFixed(3)}`);
});

test('synthetic labels match the rendered first object and cover all classes', () => {
  const s = syntheticSource({ size: 200, imageSize: 16, seed: 3 });
  const counts = new Array(SYNTHETIC_CLASSES.length).fill(0);
  for (let i = 0; i < s.size; i++) {
    assert.equal(s.label!(i), renderSynthetic(3, i, 16).label);
    counts[s.label!(i)]++;
  }
  for (const c of counts) assert.ok(c > 30, `class counts ${counts}`);
  assert.equal(s.numClasses, 4);
});

test('synthetic source is cheap: 64 px images in well under 5 ms each', () => {
  const s = syntheticSource({ size: 100, imageSize: 64, seed: 0 });
  const t0 = performance.now();
  for (let i = 0; i < s.size; i++) s.get(i);
  const perImage = (performance.now() - t0) / s.size;
  assert.ok(perImage < 5, `${perImage.toFixed(2)} ms per image`);
});

test('synthetic source rejects out-of-range indices', () => {
  const s = syntheticSource({ size: 5, imageSize: 8, seed: 0 });
  assert.throws(() => s.get(5), /index 5 out of range \[0, 5\)/);
});
