import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLabelledImages } from '../finetune/labelled-data.ts';
import { corrupt, corruptBatch, CORRUPTIONS, jpegQuantTable, meanCorruptionError, psnr, toUnit } from './corruptions.ts';

const side = 32;
const data = await loadLabelledImages({ kind: 'fashion-mnist', split: 'test', limit: 8 }, side);
const per = side * side * 3;
const images = Array.from({ length: data.size }, (_, i) => data.pixels.subarray(i * per, (i + 1) * per));

test('every corruption: PSNR falls as severity rises (mean over 8 Fashion-MNIST images), shapes and [0, 1] kept', () => {
  const rows: string[] = [];
  for (const c of CORRUPTIONS) {
    const means = [1, 2, 3, 4, 5].map((sev) => {
      let sum = 0;
      for (const [i, img] of images.entries()) {
        const out = corrupt(c, img, side, side, sev, 100 + i);
        assert.equal(out.length, per);
        assert.ok(
          out.every((v) => v >= 0 && v <= 1),
          `${c} ${sev}: values outside [0, 1]`,
        );
        sum += psnr(toUnit(img), out);
      }
      return sum / images.length;
    });
    rows.push(`${c.padEnd(15)} ${means.map((v) => v.toFixed(2).padStart(6)).join(' ')} dB`);
    // pixelate at 0.95 and 0.9 of 32 px (30 and 28 px, both non-integer ratios) alias about equally: only 1 > 3 > 4 > 5 holds
    const steps = c === 'pixelate' ? [2, 3, 4] : [1, 2, 3, 4];
    if (c === 'pixelate') assert.ok(means[2] < means[0]);
    for (const k of steps) assert.ok(means[k] < means[k - 1], `${c}: PSNR ${means.join(', ')} not falling with severity`);
    assert.ok(Number.isFinite(means[0]) && means[4] > 5, `${c}: PSNR ${means}`);
  }
  console.log(`PSNR by severity 1..5:\n${rows.join('\n')}`);
});

test('deterministic by seed; another seed, other noise; float and uint8 inputs agree', () => {
  const img = images[0];
  for (const c of CORRUPTIONS) {
    assert.deepEqual(corrupt(c, img, side, side, 3, 42), corrupt(c, img, side, side, 3, 42), `${c} not deterministic`);
    const f = Float32Array.from(img, (v) => v / 255);
    assert.ok(psnr(corrupt(c, img, side, side, 3, 42), corrupt(c, f, side, side, 3, 42)) > 60, `${c}: uint8 and float inputs differ`);
  }
  assert.notDeepEqual(corrupt('gaussian_noise', img, side, side, 3, 1), corrupt('gaussian_noise', img, side, side, 3, 2));
  assert.notDeepEqual(corrupt('shot_noise', img, side, side, 3, 1), corrupt('shot_noise', img, side, side, 3, 2));
  // a batch gives image i the same noise whatever batch it falls in
  const all = corruptBatch('gaussian_noise', data.pixels, 8, side, side, 2, 9);
  const tail = corruptBatch('gaussian_noise', data.pixels.subarray(5 * per), 3, side, side, 2, 9, 5);
  assert.deepEqual(all.subarray(5 * per), tail);
  assert.throws(() => corrupt('contrast', img, side, side, 6), /severity/);
});

test('known values: contrast keeps the channel mean; JPEG tables follow libjpeg; a flat image survives JPEG and blur', () => {
  const img = toUnit(images[1]);
  const out = corrupt('contrast', img, side, side, 5);
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean(out) - mean(img)) < 1e-5);
  assert.equal(jpegQuantTable([16, 11], 50)[0], 16);
  assert.deepEqual(jpegQuantTable([16, 11], 75), [8, 6]); // scale 50: floor((16·50 + 50)/100) = 8
  assert.deepEqual(jpegQuantTable([16, 11], 10), [80, 55]); // scale 500
  const flat = new Float32Array(per).fill(100 / 255);
  for (const c of ['gaussian_blur', 'pixelate'] as const) {
    const o = corrupt(c, flat, side, side, 5);
    assert.ok(
      o.every((v) => Math.abs(v - 100 / 255) < 1e-6),
      `${c} changes a flat image`,
    );
  }
  // JPEG moves a flat block only by its DC quantization: at quality 40 the DC step is 20 (÷8 per pixel)
  const j = corrupt('jpeg', flat, side, side, 5);
  assert.ok(
    j.every((v) => Math.abs(v - j[0]) < 1e-9 && Math.abs(v * 255 - 100) <= 2),
    `jpeg on a flat image: ${j[0] * 255}`,
  );
});

test('mCE: unnormalized mean error without a baseline; Σ_s E / Σ_s E_base with one (Hendrycks & Dietterich)', () => {
  const errors = { gaussian_noise: { 1: 0.2, 3: 0.4 }, contrast: { 1: 0.1, 3: 0.3 } };
  const plain = meanCorruptionError(errors);
  assert.equal(plain.normalization, 'unnormalized');
  assert.ok(Math.abs(plain.perCorruption.gaussian_noise - 0.3) < 1e-12);
  assert.ok(Math.abs(plain.mCE - 0.25) < 1e-12);
  const rel = meanCorruptionError(errors, { gaussian_noise: { 1: 0.3, 3: 0.9 }, contrast: { 1: 0.2, 3: 0.2 } });
  assert.equal(rel.normalization, 'baseline');
  assert.ok(Math.abs(rel.perCorruption.gaussian_noise - 0.5) < 1e-12);
  assert.ok(Math.abs(rel.perCorruption.contrast - 1) < 1e-12);
  assert.ok(Math.abs(rel.mCE - 0.75) < 1e-12);
  assert.throws(() => meanCorruptionError(errors, { gaussian_noise: { 1: 0.3 } }), /baseline lacks/);
});
