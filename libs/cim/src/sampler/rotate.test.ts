import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../rng.ts';
import { cropRotatedExemplar, drawExemplarGeometry, exemplarCorners, fitRotatedExemplar, rasterizeExemplarMask } from './rotate.ts';
import { officialSamplerConfig } from './config.ts';
import type { RgbImage } from './types.ts';

function makeImage(w: number, h: number, f: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c);
  return { width: w, height: h, data };
}

/** Smooth 48×40 image; the golden exemplars below come from Pillow 12.3.0. */
const smooth = makeImage(48, 40, (x, y, c) =>
  c === 0
    ? Math.floor(40 + 3 * x + 0.5)
    : c === 1
      ? Math.floor(200 - 4 * y + 0.5)
      : Math.floor(128 + 60 * Math.sin(x / 7) * Math.cos(y / 5) + 0.5),
);
const box = { x: 9, y: 7, width: 22, height: 15, fallback: false };

// Golden values, Pillow 12.3.0: rot = img.rotate(angle, BICUBIC, expand=True); the exemplar's centre
// mapped into the expanded canvas, q = R·(c − (24, 20)) + (nw/2, nh/2); then
// rot.resize((E, E), BICUBIC, box=(q ± (width/2, height/2))) with this module's fitted geometry.
// Angle +30 → E 16 (upscaling), angle −37 → E 8 (downscaling).
const PIL_ROT_P30_E16 = [
  88, 207, 185, 91, 200, 173, 92, 192, 160, 96, 190, 151, 100, 187, 141, 103, 184, 132, 107, 181, 125, 111, 178, 121, 114, 176, 119, 118,
  173, 120, 121, 170, 124, 126, 167, 130, 129, 164, 138, 133, 161, 148, 136, 159, 155, 140, 156, 162, 83, 194, 178, 87, 191, 170, 90, 188,
  160, 94, 185, 152, 98, 182, 141, 101, 180, 134, 105, 177, 128, 109, 174, 125, 112, 171, 125, 116, 168, 128, 119, 165, 133, 124, 162, 140,
  127, 160, 149, 131, 157, 158, 134, 154, 165, 138, 151, 172, 81, 189, 175, 85, 186, 167, 88, 183, 158, 92, 180, 149, 96, 177, 140, 99, 175,
  133, 103, 172, 129, 107, 169, 128, 110, 166, 129, 114, 163, 133, 117, 160, 140, 122, 157, 148, 125, 155, 157, 129, 152, 166, 132, 149,
  174, 136, 146, 180, 79, 185, 170, 83, 182, 161, 87, 179, 151, 90, 176, 143, 94, 173, 136, 97, 171, 130, 102, 168, 128, 105, 165, 127, 108,
  162, 130, 112, 159, 135, 115, 156, 143, 120, 153, 152, 123, 151, 162, 127, 148, 171, 130, 145, 178, 134, 142, 184, 77, 180, 161, 81, 177,
  152, 84, 174, 144, 88, 172, 136, 92, 169, 129, 95, 166, 125, 99, 163, 123, 103, 160, 125, 106, 157, 129, 110, 155, 136, 113, 152, 144,
  118, 149, 154, 121, 146, 163, 125, 143, 173, 128, 141, 180, 132, 138, 185, 75, 176, 150, 79, 173, 141, 82, 170, 133, 86, 167, 126, 90,
  164, 120, 93, 162, 118, 97, 159, 117, 101, 156, 120, 104, 153, 125, 108, 150, 134, 111, 147, 144, 116, 144, 154, 119, 142, 163, 123, 139,
  172, 126, 136, 178, 130, 133, 183, 73, 172, 137, 77, 169, 129, 81, 166, 121, 84, 163, 115, 88, 160, 111, 91, 158, 109, 96, 155, 110, 99,
  152, 115, 102, 149, 122, 106, 146, 129, 109, 143, 139, 114, 140, 151, 117, 138, 160, 121, 135, 168, 124, 132, 174, 128, 129, 177, 71, 167,
  124, 75, 164, 116, 78, 161, 108, 83, 158, 102, 87, 155, 99, 90, 153, 99, 93, 150, 101, 97, 147, 108, 101, 144, 116, 105, 141, 125, 108,
  138, 135, 112, 135, 146, 115, 133, 154, 119, 130, 162, 123, 127, 167, 127, 124, 169, 69, 163, 112, 73, 160, 103, 77, 157, 95, 81, 154, 91,
  85, 151, 89, 88, 149, 90, 92, 146, 94, 95, 143, 100, 99, 140, 109, 103, 137, 119, 106, 134, 129, 110, 131, 140, 113, 129, 148, 117, 126,
  155, 121, 123, 159, 125, 120, 159, 67, 158, 99, 71, 155, 91, 75, 152, 85, 79, 150, 82, 83, 147, 80, 86, 144, 82, 90, 141, 87, 93, 138, 94,
  97, 135, 103, 101, 133, 114, 104, 130, 125, 108, 127, 134, 111, 124, 141, 115, 121, 147, 119, 119, 150, 123, 116, 149, 65, 153, 90, 69,
  150, 82, 73, 147, 76, 77, 145, 74, 81, 142, 74, 84, 139, 76, 88, 136, 82, 91, 133, 90, 95, 130, 100, 99, 128, 111, 102, 125, 120, 106,
  122, 128, 109, 119, 135, 113, 116, 139, 117, 114, 141, 121, 111, 139, 64, 149, 83, 68, 146, 76, 71, 143, 70, 75, 140, 68, 79, 137, 71, 82,
  135, 74, 86, 132, 80, 90, 129, 88, 93, 126, 99, 97, 123, 108, 100, 120, 117, 105, 117, 125, 108, 115, 131, 112, 112, 133, 115, 109, 134,
  119, 106, 130, 62, 145, 79, 66, 142, 73, 69, 139, 68, 73, 137, 67, 77, 134, 70, 80, 131, 73, 84, 128, 81, 88, 125, 89, 91, 123, 98, 95,
  120, 109, 98, 117, 117, 103, 114, 124, 106, 111, 128, 110, 108, 129, 113, 106, 128, 117, 103, 123, 60, 141, 79, 64, 138, 73, 67, 135, 70,
  71, 132, 69, 75, 129, 72, 78, 127, 77, 82, 124, 85, 86, 121, 93, 89, 118, 103, 93, 115, 112, 96, 112, 119, 101, 109, 125, 104, 107, 128,
  108, 104, 127, 111, 101, 124, 115, 98, 118, 58, 136, 82, 62, 133, 76, 65, 130, 73, 69, 127, 75, 73, 124, 78, 76, 122, 83, 80, 119, 91, 84,
  116, 100, 87, 113, 109, 91, 110, 117, 94, 107, 123, 99, 104, 127, 102, 102, 129, 106, 99, 127, 109, 96, 123, 113, 93, 116, 56, 132, 86,
  60, 129, 82, 63, 126, 81, 67, 123, 81, 71, 120, 87, 74, 118, 94, 78, 115, 102, 82, 112, 110, 85, 109, 118, 89, 106, 126, 92, 103, 131, 97,
  100, 133, 100, 98, 133, 104, 95, 130, 107, 92, 124, 111, 89, 116,
];
const PIL_ROT_M37_E8 = [
  60, 149, 88, 66, 156, 94, 72, 162, 110, 79, 169, 129, 85, 175, 144, 92, 181, 150, 99, 191, 147, 105, 196, 132, 64, 141, 74, 71, 148, 76,
  77, 154, 90, 83, 160, 108, 90, 167, 125, 96, 173, 134, 103, 179, 132, 109, 187, 120, 69, 133, 69, 75, 139, 68, 82, 146, 79, 88, 152, 96,
  95, 159, 114, 101, 165, 125, 107, 172, 127, 114, 178, 117, 73, 125, 77, 80, 132, 73, 86, 138, 80, 92, 144, 95, 99, 151, 114, 105, 157,
  127, 112, 164, 132, 118, 170, 124, 78, 117, 95, 84, 123, 88, 91, 130, 91, 97, 136, 104, 104, 142, 122, 110, 149, 138, 116, 155, 145, 123,
  162, 140, 82, 109, 117, 89, 115, 107, 95, 122, 107, 101, 128, 118, 108, 134, 134, 114, 141, 152, 121, 148, 162, 127, 154, 161, 87, 101,
  138, 94, 107, 124, 100, 114, 121, 106, 120, 129, 113, 127, 145, 119, 133, 162, 125, 139, 176, 132, 146, 178, 92, 93, 149, 98, 99, 134,
  104, 105, 127, 111, 112, 133, 117, 118, 147, 123, 125, 166, 130, 131, 181, 136, 138, 187,
];

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

test('exemplars match Pillow rotate(expand=True) + crop + resize; the rotation is counter-clockwise', () => {
  for (const [angle, size, golden] of [
    [30, 16, PIL_ROT_P30_E16],
    [-37, 8, PIL_ROT_M37_E8],
  ] as const) {
    const g = fitRotatedExemplar(box, angle, 48, 40);
    const out = new Float32Array(size * size * 3);
    cropRotatedExemplar(smooth, g, size, out);
    const err = meanAbsDiff(out, golden);
    assert.ok(err < 1.5, `angle ${angle}: mean |diff| ${err} grey levels`);
    // the opposite rotation direction is far off
    cropRotatedExemplar(smooth, { ...g, angle: -angle }, size, out);
    assert.ok(meanAbsDiff(out, golden) > 10);
  }
});

test('angle 0: the exemplar is the box itself, unshrunk; an E×E box is copied exactly', () => {
  const g = fitRotatedExemplar({ x: 5, y: 3, width: 16, height: 16, fallback: false }, 0, 48, 40);
  assert.deepEqual([g.cx, g.cy, g.width, g.height, g.shrink], [13, 11, 16, 16, 1]);
  const out = new Float32Array(16 * 16 * 3);
  cropRotatedExemplar(smooth, g, 16, out);
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      for (let c = 0; c < 3; c++) {
        assert.ok(Math.abs(out[(y * 16 + x) * 3 + c] - smooth.data[((y + 3) * 48 + x + 5) * 3 + c]) < 1e-4);
      }
    }
  }
});

test('angle 90: bounding box sides swap and pixels are the view turned counter-clockwise', () => {
  const g = fitRotatedExemplar({ x: 10, y: 10, width: 8, height: 8, fallback: false }, 90, 48, 40);
  assert.ok(Math.abs(g.width - 8) < 1e-9 && Math.abs(g.height - 8) < 1e-9 && g.shrink === 1);
  const out = new Float32Array(8 * 8 * 3);
  cropRotatedExemplar(smooth, g, 8, out);
  // exemplar (u, v) comes from view (x0 + 7 − v, y0 + u): Pillow's rotate(90) moves the top row to the left column
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      for (let c = 0; c < 3; c++) {
        const want = smooth.data[((10 + u) * 48 + 10 + 7 - v) * 3 + c];
        assert.ok(Math.abs(out[(v * 8 + u) * 3 + c] - want) < 1e-3, `(${u}, ${v}, ${c})`);
      }
    }
  }
});

test('fit rule: corners always inside the view, tight when shrunk, sides = rotated bounding box × shrink', () => {
  const rng = new Rng(7);
  let shrunk = 0;
  for (let i = 0; i < 2000; i++) {
    const S = 224;
    const g = drawExemplarGeometry(S, S, officialSamplerConfig, rng);
    const t = (g.angle * Math.PI) / 180;
    const bw = g.box.width * Math.abs(Math.cos(t)) + g.box.height * Math.abs(Math.sin(t));
    const bh = g.box.width * Math.abs(Math.sin(t)) + g.box.height * Math.abs(Math.cos(t));
    assert.ok(Math.abs(g.width - bw * g.shrink) < 1e-9 && Math.abs(g.height - bh * g.shrink) < 1e-9);
    assert.ok(g.shrink > 0 && g.shrink <= 1);
    const corners = exemplarCorners(g);
    let slack = Infinity;
    for (const [x, y] of corners) {
      assert.ok(x >= -1e-9 && x <= S + 1e-9 && y >= -1e-9 && y <= S + 1e-9, `corner (${x}, ${y}) outside`);
      slack = Math.min(slack, x, y, S - x, S - y);
    }
    if (g.shrink < 1) {
      shrunk++;
      assert.ok(slack < 1e-6, 'a shrunk exemplar touches the view border');
    }
  }
  assert.ok(shrunk > 100, `${shrunk} shrunk of 2000`);
});

test('mask: an axis-aligned box rasterizes to exactly the context pixels whose centres it holds', () => {
  // view 224, context 160 (7/5 view px per context px); box x 28..140, y 56..84
  const g = fitRotatedExemplar({ x: 28, y: 56, width: 112, height: 28, fallback: false }, 0, 224, 224);
  const m = new Uint8Array(160 * 160);
  rasterizeExemplarMask(g, 224, 224, 160, m);
  for (let i = 0; i < 160; i++) {
    for (let j = 0; j < 160; j++) {
      const x = ((j + 0.5) * 224) / 160;
      const y = ((i + 0.5) * 224) / 160;
      assert.equal(m[i * 160 + j], x >= 28 && x <= 140 && y >= 56 && y <= 84 ? 1 : 0);
    }
  }
});

test('mask of a rotated exemplar: pixels inside the rectangle in its own frame, area = width·height', () => {
  const g = fitRotatedExemplar({ x: 60, y: 40, width: 90, height: 50, fallback: false }, 30, 224, 224);
  const C = 160;
  const m = new Uint8Array(C * C);
  rasterizeExemplarMask(g, 224, 224, C, m);
  const k = C / 224;
  let count = 0;
  for (const v of m) count += v;
  const area = g.width * g.height * k * k;
  assert.ok(Math.abs(count - area) / area < 0.02, `count ${count}, area ${area}`);
  // the rectangle is turned: along its first row, the mask's top edge goes down to the right
  // (u = (cos 30°, sin 30°) in y-down view coordinates)
  const top = (j: number): number => {
    for (let i = 0; i < C; i++) if (m[i * C + j]) return i;
    return -1;
  };
  const [tl, tr] = exemplarCorners(g);
  const jl = Math.round(tl[0] * k);
  const jr = Math.round(tr[0] * k);
  assert.ok(top(jr - 2) > top(jl + 2) + 10, `top edge ${top(jl + 2)} → ${top(jr - 2)}`);
});
