import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../rng.ts';
import { collate, officialSamplerConfig, sampleCim, samplerConfig, smallSamplerConfig } from './sampler.ts';
import { drawExemplarGeometry, exemplarCorners, type ExemplarGeometry } from './rotate.ts';
import { randomResizedCropBox } from './crop-box.ts';
import { denormalizeToRgb } from './normalize.ts';
import { smoothTestImage } from './test-images.ts';
import type { CimSample, SamplerConfig } from './types.ts';

/** Smooth, asymmetric (R: x², G: −y, B: blobs), all values >= 60. */
const IMAGE = smoothTestImage(320, 240);

const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Bilinear sample of channel c of exemplar t at continuous exemplar coords (u, v), pixel centres at +0.5. */
function exemplarAt(s: CimSample, cfg: SamplerConfig, t: number, u: number, v: number, c: number): number {
  const E = cfg.exemplarSize;
  const base = t * E * E * 3;
  const fx = Math.min(Math.max(u - 0.5, 0), E - 1);
  const fy = Math.min(Math.max(v - 0.5, 0), E - 1);
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, E - 1);
  const y1 = Math.min(y0 + 1, E - 1);
  const ax = fx - x0;
  const ay = fy - y0;
  const at = (x: number, y: number): number => s.exemplars[base + (y * E + x) * 3 + c];
  return (1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x1, y0)) + ay * ((1 - ax) * at(x0, y1) + ax * at(x1, y1));
}

function maskPixels(s: CimSample, C: number, t: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) if (s.masks[t * C * C + i * C + j]) out.push([i, j]);
  return out;
}

/**
 * Mean |exemplar − context| (normalized units) over the mask, with the exemplar stretched onto the
 * mask's bounding box on the context grid: needs nothing but the mask. `view` reads the exemplar
 * as is, mirrored, or transposed.
 */
function bboxError(s: CimSample, cfg: SamplerConfig, t: number, view: 'as-is' | 'flipped' | 'transposed'): number {
  const C = cfg.contextSize;
  const E = cfg.exemplarSize;
  const px = maskPixels(s, C, t);
  const i0 = Math.min(...px.map((p) => p[0]));
  const i1 = Math.max(...px.map((p) => p[0]));
  const j0 = Math.min(...px.map((p) => p[1]));
  const j1 = Math.max(...px.map((p) => p[1]));
  let err = 0;
  for (const [i, j] of px) {
    let u = ((j - j0 + 0.5) / (j1 - j0 + 1)) * E;
    let v = ((i - i0 + 0.5) / (i1 - i0 + 1)) * E;
    if (view === 'flipped') u = E - u;
    if (view === 'transposed') [u, v] = [v, u];
    for (let c = 0; c < 3; c++) err += Math.abs(exemplarAt(s, cfg, t, u, v, c) - s.context[(i * C + j) * 3 + c]);
  }
  return err / (px.length * 3);
}

/**
 * Same, but mapping each mask pixel into the exemplar through its geometry (any angle); also the
 * number of mask pixels that land outside the exemplar.
 */
function geometryError(s: CimSample, cfg: SamplerConfig, t: number, g: ExemplarGeometry): { err: number; outside: number } {
  const C = cfg.contextSize;
  const E = cfg.exemplarSize;
  const k = cfg.searchSize / C;
  const th = (g.angle * Math.PI) / 180;
  const px = maskPixels(s, C, t);
  let err = 0;
  let outside = 0;
  for (const [i, j] of px) {
    const dx = (j + 0.5) * k - g.cx;
    const dy = (i + 0.5) * k - g.cy;
    const a = dx * Math.cos(th) + dy * Math.sin(th);
    const b = -dx * Math.sin(th) + dy * Math.cos(th);
    const u = (a / g.width + 0.5) * E;
    const v = (b / g.height + 0.5) * E;
    if (u < -1e-6 || u > E + 1e-6 || v < -1e-6 || v > E + 1e-6) outside++;
    for (let c = 0; c < 3; c++) err += Math.abs(exemplarAt(s, cfg, t, u, v, c) - s.context[(i * C + j) * 3 + c]);
  }
  return { err: err / (px.length * 3), outside };
}

test('deterministic: same seed → identical bytes, different seed → different', () => {
  const cfg = officialSamplerConfig;
  const a = sampleCim(IMAGE, cfg, new Rng(1));
  const rng = new Rng(1);
  const b = sampleCim(IMAGE, cfg, rng);
  const c = sampleCim(IMAGE, cfg, new Rng(2));
  for (const k of ['context', 'exemplars', 'masks'] as const) {
    assert.ok(bytes(a[k]).equals(bytes(b[k])), `${k} differs for the same seed`);
    assert.ok(!bytes(a[k]).equals(bytes(c[k])), `${k} equal for different seeds`);
  }
  assert.equal(a.context.length, 160 * 160 * 3);
  assert.equal(a.exemplars.length, 6 * 64 * 64 * 3);
  assert.equal(a.masks.length, 6 * 160 * 160);
  // resuming from a saved Rng state reproduces the next sample
  const state = rng.getState();
  const d = sampleCim(IMAGE, cfg, rng);
  const e = sampleCim(IMAGE, cfg, new Rng(state));
  assert.ok(bytes(d.exemplars).equals(bytes(e.exemplars)) && bytes(d.masks).equals(bytes(e.masks)));
});

test('unrotated exemplars sit exactly on their masks: not flipped, not transposed', () => {
  for (const base of [officialSamplerConfig, smallSamplerConfig]) {
    const cfg = samplerConfig({ rotation: [0, 1], augment: false }, base);
    const errs = { asIs: [] as number[], flipped: [] as number[], transposed: [] as number[] };
    for (const seed of [1, 2, 3]) {
      const s = sampleCim(IMAGE, cfg, new Rng(seed), { debug: true });
      for (let t = 0; t < cfg.numExemplars; t++) {
        assert.equal(s.debug.exemplars[t].angle, 0);
        errs.asIs.push(bboxError(s, cfg, t, 'as-is'));
        errs.flipped.push(bboxError(s, cfg, t, 'flipped'));
        errs.transposed.push(bboxError(s, cfg, t, 'transposed'));
      }
    }
    const mean = (v: number[]): number => v.reduce((p, q) => p + q, 0) / v.length;
    const tag = `${base.searchSize}/${base.contextSize}/${base.exemplarSize}`;
    // 0.1 normalized ≈ 6 grey levels; smooth image, so this is bicubic vs bicubic at different scales
    assert.ok(Math.max(...errs.asIs) < 0.1, `${tag} max error ${Math.max(...errs.asIs)}`);
    assert.ok(mean(errs.flipped) > 5 * mean(errs.asIs), `${tag} flipped ${mean(errs.flipped)} vs ${mean(errs.asIs)}`);
    assert.ok(mean(errs.transposed) > 5 * mean(errs.asIs), `${tag} transposed ${mean(errs.transposed)}`);
    const worse = errs.asIs.filter((e, i) => errs.flipped[i] > 2 * e && errs.transposed[i] > 2 * e).length;
    assert.ok(worse >= 0.8 * errs.asIs.length, `${tag}: only ${worse} of ${errs.asIs.length} clearly worse`);
  }
});

test('rotated exemplars match the context over their masks through their geometry', () => {
  const cfg = samplerConfig({ augment: false });
  let n = 0;
  for (const seed of [4, 5]) {
    const s = sampleCim(IMAGE, cfg, new Rng(seed), { debug: true });
    s.debug.exemplars.forEach((g, t) => {
      const { err, outside } = geometryError(s, cfg, t, g);
      assert.ok(err < 0.1, `angle ${g.angle}: error ${err}`);
      assert.equal(outside, 0, `angle ${g.angle}: ${outside} mask pixels outside the exemplar`);
      if (Math.abs(g.angle) >= 10) {
        n++;
        const mirrored = geometryError(s, cfg, t, { ...g, angle: -g.angle });
        assert.ok(mirrored.err > 2 * err, `angle ${g.angle}: mirrored rotation fits too`);
      }
    });
  }
  assert.ok(n >= 6, `only ${n} exemplars rotated by 10° or more`);
});

test('positive angles turn counter-clockwise: along an exemplar row the view is walked down-right', () => {
  // G falls with view y (G = 60 + 195·(0.9 − 0.8·y/H)); at +30° a step right in the exemplar is
  // (cos 30°, sin 30°) in the view, so G falls along rows; at −30° it rises.
  for (const [angle, sign] of [
    [30, -1],
    [-30, 1],
  ]) {
    const cfg = samplerConfig({ rotation: [angle, angle + 1], augment: false, numExemplars: 4 });
    const s = sampleCim(IMAGE, cfg, new Rng(9));
    const E = cfg.exemplarSize;
    let dG = 0;
    for (let t = 0; t < 4; t++) {
      for (let y = 0; y < E; y++) {
        const row = (t * E + y) * E * 3;
        dG += s.exemplars[row + (E - 1) * 3 + 1] - s.exemplars[row + 1];
      }
    }
    assert.equal(Math.sign(dG), sign, `angle ${angle}: ΔG ${dG}`);
  }
});

test('mask = context pixels inside the crop box of the rotated (expanded) canvas, as the official code builds it', () => {
  // Forward map of Pillow's rotate(angle, expand=True), checked against Pillow in rotate.test.ts:
  // q = R·(p − view centre) + canvas centre, R = [[cos, sin], [−sin, cos]]. The exemplar is the
  // axis-aligned box of size width × height centred on the image of its centre.
  const cfg = samplerConfig({ augment: false });
  const S = cfg.searchSize;
  const C = cfg.contextSize;
  const s = sampleCim(IMAGE, cfg, new Rng(16), { debug: true });
  s.debug.exemplars.forEach((g, t) => {
    const th = (g.angle * Math.PI) / 180;
    const fwd = (x: number, y: number): [number, number] => [
      (x - S / 2) * Math.cos(th) + (y - S / 2) * Math.sin(th),
      -(x - S / 2) * Math.sin(th) + (y - S / 2) * Math.cos(th),
    ];
    const [qx, qy] = fwd(g.cx, g.cy);
    let mismatches = 0;
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) {
        const [x, y] = fwd(((j + 0.5) * S) / C, ((i + 0.5) * S) / C);
        const dx = Math.abs(x - qx) - g.width / 2;
        const dy = Math.abs(y - qy) - g.height / 2;
        if (Math.abs(dx) < 1e-6 || Math.abs(dy) < 1e-6) continue; // on the boundary
        if ((dx < 0 && dy < 0 ? 1 : 0) !== s.masks[t * C * C + i * C + j]) mismatches++;
      }
    }
    assert.equal(mismatches, 0, `exemplar ${t} (angle ${g.angle})`);
  });
});

test('mask area = exemplar rectangle area on the context grid, rotated or not', () => {
  for (const rotation of [
    [0, 1],
    [-45, 45],
  ] as [number, number][]) {
    const cfg = samplerConfig({ rotation, augment: false });
    const k = cfg.contextSize / cfg.searchSize;
    for (const seed of [6, 7]) {
      const s = sampleCim(IMAGE, cfg, new Rng(seed), { debug: true });
      s.debug.exemplars.forEach((g, t) => {
        const count = maskPixels(s, cfg.contextSize, t).length;
        const area = g.width * g.height * k * k;
        // lattice-point count of a rectangle: off by at most about half its perimeter (a one-pixel border)
        const border = (g.width + g.height) * k;
        assert.ok(Math.abs(count - area) <= border + 2, `angle ${g.angle}: ${count} px vs area ${area.toFixed(1)}`);
        if (g.angle === 0) assert.equal(g.width * g.height, g.box.width * g.box.height);
      });
    }
  }
});

test('rotated exemplars stay inside the view: no black, corners inside', () => {
  const cfg = samplerConfig({ augment: false });
  const S = cfg.searchSize;
  let shrunk = 0;
  for (const seed of [8, 9, 10]) {
    const s = sampleCim(IMAGE, cfg, new Rng(seed), { debug: true });
    const rgb = denormalizeToRgb(s.exemplars);
    assert.ok(Math.min(...rgb) >= 50, `darkest exemplar value ${Math.min(...rgb)} (image >= 60)`);
    for (const g of s.debug.exemplars) {
      if (g.shrink < 1) shrunk++;
      for (const [x, y] of exemplarCorners(g)) assert.ok(x >= -1e-9 && x <= S + 1e-9 && y >= -1e-9 && y <= S + 1e-9);
    }
    for (let t = 0; t < cfg.numExemplars; t++) assert.ok(maskPixels(s, cfg.contextSize, t).length > 0);
  }
  assert.ok(shrunk > 0, 'no exemplar needed shrinking: the test would prove nothing');
});

test('draw statistics: angles, exemplar area fraction and aspect, search crop', () => {
  const cfg = officialSamplerConfig;
  const S = cfg.searchSize;
  const rng = new Rng(12);
  const angles = new Set<number>();
  let fallback = 0;
  let sumFrac = 0;
  let sumLogRatio = 0;
  let minFrac = 1;
  let maxFrac = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const g = drawExemplarGeometry(S, S, cfg, rng);
    assert.ok(Number.isInteger(g.angle) && g.angle >= -45 && g.angle < 45);
    angles.add(g.angle);
    if (g.box.fallback) {
      fallback++;
      continue;
    }
    const frac = (g.box.width * g.box.height) / (S * S);
    const ratio = g.box.width / g.box.height;
    assert.ok(frac >= 0.05 * 0.93 && frac <= 0.48 * 1.05, `area fraction ${frac}`);
    assert.ok(ratio >= (1 / 3) * 0.95 && ratio <= 3 * 1.05, `ratio ${ratio}`);
    sumFrac += frac;
    sumLogRatio += Math.log(ratio);
    minFrac = Math.min(minFrac, frac);
    maxFrac = Math.max(maxFrac, frac);
  }
  assert.equal(angles.size, 90); // every integer in [-45, 45), -45 and 44 included
  assert.ok(fallback < n * 0.01, `${fallback} fallbacks`);
  const meanFrac = sumFrac / (n - fallback);
  assert.ok(meanFrac > 0.22 && meanFrac < 0.28, `mean area fraction ${meanFrac}`); // 0.265 before rejections
  assert.ok(Math.abs(sumLogRatio / (n - fallback)) < 0.05, 'aspect ratio not log-symmetric');
  assert.ok(minFrac < 0.06 && maxFrac > 0.46, `fractions span [${minFrac}, ${maxFrac}]`);

  for (let i = 0; i < 1000; i++) {
    const b = randomResizedCropBox(500, 375, cfg.searchScale, cfg.searchRatio, rng);
    const frac = (b.width * b.height) / (500 * 375);
    const ratio = b.width / b.height;
    assert.ok(b.x >= 0 && b.y >= 0 && b.x + b.width <= 500 && b.y + b.height <= 375);
    if (!b.fallback) assert.ok(frac >= 0.495 && frac <= 1 && ratio >= 0.745 && ratio <= 1.34, `search ${frac} ${ratio}`);
  }
});

test('augmentation changes exemplars only: same geometry, masks and context', () => {
  const on = samplerConfig({ augment: true });
  const off = samplerConfig({ augment: false });
  let changed = 0;
  for (const seed of [13, 14]) {
    const a = sampleCim(IMAGE, on, new Rng(seed), { debug: true });
    const b = sampleCim(IMAGE, off, new Rng(seed), { debug: true });
    assert.ok(bytes(a.masks).equals(bytes(b.masks)));
    assert.ok(bytes(a.context).equals(bytes(b.context)));
    const E3 = 64 * 64 * 3;
    a.debug.exemplars.forEach((g, t) => {
      assert.deepEqual(
        [g.angle, g.cx, g.cy, g.width, g.height],
        [
          b.debug.exemplars[t].angle,
          b.debug.exemplars[t].cx,
          b.debug.exemplars[t].cy,
          b.debug.exemplars[t].width,
          b.debug.exemplars[t].height,
        ],
      );
      let diff = 0;
      for (let i = t * E3; i < (t + 1) * E3; i++) diff += Math.abs(a.exemplars[i] - b.exemplars[i]);
      diff /= E3;
      const r = g.augment!;
      const applied = r.colorJitter !== null || r.grayscale || r.blurSigma !== null || r.solarize || r.flipped;
      // (a mild blur of a smooth image alone changes little, but something)
      if (applied) assert.ok(diff > 0, `exemplar ${t}: ${JSON.stringify(r)} left it unchanged`);
      else assert.equal(diff, 0);
      if (diff > 0.05) changed++;
      assert.equal(b.debug.exemplars[t].augment, null);
    });
  }
  assert.ok(changed >= 6, `only ${changed} of 12 exemplars clearly augmented`);
});

test('search flip mirrors the view and the context', () => {
  const a = sampleCim(IMAGE, samplerConfig({ searchFlipP: 0 }), new Rng(15), { debug: true });
  const b = sampleCim(IMAGE, samplerConfig({ searchFlipP: 1 }), new Rng(15), { debug: true });
  assert.equal(a.debug.searchFlipped, false);
  assert.equal(b.debug.searchFlipped, true);
  const C = 160;
  let maxDiff = 0;
  let asymmetry = 0;
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      for (let c = 0; c < 3; c++) {
        maxDiff = Math.max(maxDiff, Math.abs(a.context[(i * C + j) * 3 + c] - b.context[(i * C + C - 1 - j) * 3 + c]));
        asymmetry = Math.max(asymmetry, Math.abs(a.context[(i * C + j) * 3 + c] - b.context[(i * C + j) * 3 + c]));
      }
    }
  }
  assert.ok(maxDiff < 1e-3, `mirror mismatch ${maxDiff}`);
  assert.ok(asymmetry > 0.5);
});

test('collate: context batch-major, exemplars and masks template-major', () => {
  const cfg = samplerConfig({ numExemplars: 3 }, smallSamplerConfig);
  const samples = [1, 2].map((seed) => sampleCim(smoothTestImage(28, 28), cfg, new Rng(seed)));
  const batch = collate(samples, cfg);
  const { contextSize: C, exemplarSize: E } = cfg;
  assert.deepEqual([batch.batchSize, batch.numExemplars, batch.contextSize, batch.exemplarSize], [2, 3, 32, 16]);
  assert.equal(batch.exemplars.length, 3 * 2 * E * E * 3);
  for (let b = 0; b < 2; b++) {
    assert.deepEqual(batch.context.subarray(b * C * C * 3, (b + 1) * C * C * 3), samples[b].context);
    for (let t = 0; t < 3; t++) {
      const ex = E * E * 3;
      assert.deepEqual(
        batch.exemplars.subarray((t * 2 + b) * ex, (t * 2 + b + 1) * ex),
        samples[b].exemplars.subarray(t * ex, (t + 1) * ex),
      );
      const m = C * C;
      assert.deepEqual(batch.masks.subarray((t * 2 + b) * m, (t * 2 + b + 1) * m), samples[b].masks.subarray(t * m, (t + 1) * m));
    }
  }
  assert.throws(() => collate(samples, officialSamplerConfig), /collate: sample 0/);
});
