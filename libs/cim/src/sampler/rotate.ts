/**
 * Rotated exemplars without materializing the rotated image.
 *
 * The recipe (official `CorrlationDataset.__getitem__`): rotate the search view by `angle` degrees
 * counter-clockwise with the canvas expanded (`PIL.Image.rotate(angle, expand=True)`), take the
 * axis-aligned bounding box of the rotated exemplar box, shrink it so that it stays inside the
 * rotated image's content, crop and resize it to the exemplar size. In the unrotated view that
 * crop is a rectangle rotated by the angle; we describe it by `ExemplarGeometry` and sample it by
 * inverse mapping, and its ground truth is that rectangle rasterized on the context grid.
 *
 * Frames (y down, pixel centres at +0.5). A counter-clockwise rotation by θ (as displayed) maps a
 * view offset p from the rotation centre to q = (px·cosθ + py·sinθ, −px·sinθ + py·cosθ); the
 * expanded canvas only adds a translation. So an offset (a, b) along the rotated canvas's axes
 * comes from the view offset a·u + b·v with u = (cosθ, sinθ), v = (−sinθ, cosθ).
 */
import type { Rng } from '../rng.ts';
import type { SamplerConfig } from './types.ts';
import { randomResizedCropBox, type CropBox } from './crop-box.ts';
import { resizeBicubicInto, bicubicKernel, type ImageRgb } from './resize.ts';

/** A rectangle of the search view, rotated; all lengths in search-view pixels. */
export interface ExemplarGeometry {
  /** counter-clockwise rotation of the view, degrees (integer) */
  angle: number;
  /** rectangle centre in the (unrotated) search view */
  cx: number;
  cy: number;
  /** side along u = (cos θ, sin θ): the exemplar's x axis */
  width: number;
  /** side along v = (−sin θ, cos θ): the exemplar's y axis */
  height: number;
  /** the box drawn on the unrotated view, before rotation */
  box: CropBox;
  /** factor (≤ 1) that shrank the rotated box's bounding box to stay inside the content */
  shrink: number;
}

/** The rectangle's four corners in view pixels, order TL, TR, BR, BL (exemplar frame). */
export function exemplarCorners(g: ExemplarGeometry): [number, number][] {
  const t = (g.angle * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const hw = g.width / 2;
  const hh = g.height / 2;
  return [
    [-hw, -hh],
    [hw, -hh],
    [hw, hh],
    [-hw, hh],
  ].map(([a, b]) => [g.cx + a * c - b * s, g.cy + a * s + b * c]);
}

/**
 * Fits the exemplar for `box` rotated by `angle` into a viewW × viewH view.
 *
 * Rule for "shrunk so that it stays inside the rotated image's content": keep the rotated box's
 * axis-aligned bounding box (sides w·|cosθ| + h·|sinθ| and w·|sinθ| + h·|cosθ|), centred on the
 * box centre, and scale it about that centre by the largest factor ≤ 1 for which all four of its
 * corners, mapped back into the view, lie in [0, viewW] × [0, viewH]. The view is convex, so the
 * whole rectangle, and every exemplar pixel centre, is then inside the view: no black fill. The
 * box centre is inside the view, so the factor is positive; at angle 0 it is exactly 1 (the
 * exemplar is the box). (The official code instead moves the offending corners inward one at a
 * time; both keep the exemplar's aspect close to the bounding box's, ours keeps it exactly.)
 */
export function fitRotatedExemplar(box: CropBox, angle: number, viewW: number, viewH: number): ExemplarGeometry {
  const t = (angle * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const ac = Math.abs(c);
  const as = Math.abs(s);
  const width = box.width * ac + box.height * as;
  const height = box.width * as + box.height * ac;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  let shrink = 1;
  for (const [a, b] of [
    [1, 1],
    [1, -1],
  ]) {
    // corners ±(a·hw·u + b·hh·v); the view constraint is symmetric in the sign, so two suffice
    const dx = Math.abs(((a * width) / 2) * c - ((b * height) / 2) * s);
    const dy = Math.abs(((a * width) / 2) * s + ((b * height) / 2) * c);
    if (dx > 0) shrink = Math.min(shrink, cx / dx, (viewW - cx) / dx);
    if (dy > 0) shrink = Math.min(shrink, cy / dy, (viewH - cy) / dy);
  }
  return { angle, cx, cy, width: width * shrink, height: height * shrink, box, shrink };
}

/**
 * One exemplar's geometry, drawn as the official code does: angle first (integer in
 * [rotation[0], rotation[1])), then a random-resized-crop box on the view.
 */
export function drawExemplarGeometry(
  viewW: number,
  viewH: number,
  cfg: Pick<SamplerConfig, 'rotation' | 'exemplarScale' | 'exemplarRatio'>,
  rng: Rng,
): ExemplarGeometry {
  const angle = rng.int(cfg.rotation[0], cfg.rotation[1]);
  const box = randomResizedCropBox(viewW, viewH, cfg.exemplarScale, cfg.exemplarRatio, rng);
  return fitRotatedExemplar(box, angle, viewW, viewH);
}

let scratch = new Float32Array(0);

/**
 * Samples the exemplar (rotated rectangle `g` of `view`) at size × size into
 * out[offset .. offset + size²·3), float 0..255, [size, size, 3].
 *
 * Inverse mapping in two steps so that large rectangles are not aliased: the rectangle is first
 * sampled on a grid of about one view pixel per sample (at most 2·size samples) along each
 * downscaled axis (bilinear when
 * both axes are then downscaled, bicubic a = −0.5 otherwise), then that grid is resized to
 * size × size with the antialiased Pillow bicubic. This is Pillow's rotate-then-resize, restricted
 * to the rectangle. Axes that are upscaled are sampled directly at the output resolution.
 */
export function cropRotatedExemplar(view: ImageRgb, g: ExemplarGeometry, size: number, out: Float32Array, offset = 0): void {
  // grid step ≤ 1 view pixel, but at most 2·size samples per axis (step ≤ 1.75 px at official
  // sizes): the bilinear grid then still touches every view pixel, and the final bicubic resize
  // (support 2·scale) does the rest of the antialiasing.
  const iw = g.width > size ? Math.min(Math.ceil(g.width), 2 * size) : size;
  const ih = g.height > size ? Math.min(Math.ceil(g.height), 2 * size) : size;
  const direct = iw === size && ih === size;
  const n = iw * ih * 3;
  if (!direct && scratch.length < n) scratch = new Float32Array(n);
  const dst = direct ? out.subarray(offset, offset + n) : scratch;
  const bicubic = iw === size || ih === size;

  const t = (g.angle * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const stepA = g.width / iw;
  const stepB = g.height / ih;
  // view point of grid sample (i, j): origin + i·(stepA·u) + j·(stepB·v)
  const ux = stepA * c;
  const uy = stepA * s;
  const vx = -stepB * s;
  const vy = stepB * c;
  const ox = g.cx + (0.5 - iw / 2) * ux + (0.5 - ih / 2) * vx;
  const oy = g.cy + (0.5 - iw / 2) * uy + (0.5 - ih / 2) * vy;
  sampleOnGrid(view, { iw, ih, ox, oy, ux, uy, vx, vy }, bicubic, dst);

  if (!direct) {
    const grid: ImageRgb<Float32Array> = { width: iw, height: ih, data: scratch };
    resizeBicubicInto(grid, size, size, out.subarray(offset, offset + size * size * 3), { clamp255: true });
  } else {
    for (let i = 0; i < n; i++) {
      const v = dst[i];
      dst[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}

/** An iw × ih grid of sample points: the first at (ox, oy), steps u along a row and v down the rows. */
interface SampleGrid {
  iw: number;
  ih: number;
  ox: number;
  oy: number;
  ux: number;
  uy: number;
  vx: number;
  vy: number;
}

/** Sample `src` at every point of `grid` (bilinear or bicubic, edges clamped) into dst, RGB interleaved. */
function sampleOnGrid(src: ImageRgb, grid: SampleGrid, bicubic: boolean, dst: Float32Array): void {
  const { iw, ih, ox, oy, ux, uy, vx, vy } = grid;
  let o = 0;
  for (let j = 0; j < ih; j++) {
    // pixel-centre convention: sample index = coordinate − 0.5
    let x = ox + j * vx - 0.5;
    let y = oy + j * vy - 0.5;
    for (let i = 0; i < iw; i++, x += ux, y += uy, o += 3) {
      const ix = Math.floor(x);
      const iy = Math.floor(y);
      if (bicubic) bicubicAt(src, ix, iy, x - ix, y - iy, dst, o);
      else bilinearAt(src, ix, iy, x - ix, y - iy, dst, o);
    }
  }
}

/** The pixel at cell (ix, iy) + (ax, ay), ax and ay in [0, 1): bilinear, edges clamped. */
function bilinearAt(src: ImageRgb, ix: number, iy: number, ax: number, ay: number, dst: Float32Array, o: number): void {
  const { width, height, data } = src;
  const wm = width - 1;
  const hm = height - 1;
  const xa = ix < 0 ? 0 : ix > wm ? wm : ix;
  const xb = ix + 1 < 0 ? 0 : ix + 1 > wm ? wm : ix + 1;
  const ya = (iy < 0 ? 0 : iy > hm ? hm : iy) * width;
  const yb = (iy + 1 < 0 ? 0 : iy + 1 > hm ? hm : iy + 1) * width;
  const p00 = (ya + xa) * 3;
  const p01 = (ya + xb) * 3;
  const p10 = (yb + xa) * 3;
  const p11 = (yb + xb) * 3;
  const w11 = ax * ay;
  const w01 = ax - w11;
  const w10 = ay - w11;
  const w00 = 1 - ax - w10;
  dst[o] = w00 * data[p00] + w01 * data[p01] + w10 * data[p10] + w11 * data[p11];
  dst[o + 1] = w00 * data[p00 + 1] + w01 * data[p01 + 1] + w10 * data[p10 + 1] + w11 * data[p11 + 1];
  dst[o + 2] = w00 * data[p00 + 2] + w01 * data[p01 + 2] + w10 * data[p10 + 2] + w11 * data[p11 + 2];
}

const wx = new Float64Array(4);
const wy = new Float64Array(4);
const px = new Int32Array(4);
const py = new Int32Array(4);

/** The same, bicubic (the 4 × 4 neighbourhood, edges clamped). */
function bicubicAt(src: ImageRgb, ix: number, iy: number, ax: number, ay: number, dst: Float32Array, o: number): void {
  const { width, height, data } = src;
  const wm = width - 1;
  const hm = height - 1;
  for (let k = 0; k < 4; k++) {
    wx[k] = bicubicKernel(ax - k + 1);
    wy[k] = bicubicKernel(ay - k + 1);
    const xx = ix + k - 1;
    const yy = iy + k - 1;
    px[k] = (xx < 0 ? 0 : xx > wm ? wm : xx) * 3;
    py[k] = (yy < 0 ? 0 : yy > hm ? hm : yy) * width * 3;
  }
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  for (let r = 0; r < 4; r++) {
    const row = py[r];
    const w0 = wy[r];
    for (let q = 0; q < 4; q++) {
      const w = w0 * wx[q];
      const p = row + px[q];
      s0 += w * data[p];
      s1 += w * data[p + 1];
      s2 += w * data[p + 2];
    }
  }
  dst[o] = s0;
  dst[o + 1] = s1;
  dst[o + 2] = s2;
}

/**
 * Ground truth: out[offset + i·C + j] = 1 for every context pixel (i row, j column, C = contextSize)
 * whose centre, in view pixels ((j + 0.5)·viewW / C, (i + 0.5)·viewH / C), lies in the rotated
 * rectangle `g` (boundary included); 0 elsewhere. [C, C].
 */
export function rasterizeExemplarMask(
  g: ExemplarGeometry,
  viewW: number,
  viewH: number,
  contextSize: number,
  out: Uint8Array,
  offset = 0,
): void {
  const C = contextSize;
  out.fill(0, offset, offset + C * C);
  const t = (g.angle * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const hw = g.width / 2;
  const hh = g.height / 2;
  const sx = viewW / C;
  const sy = viewH / C;
  // bounding rows/columns of the rectangle on the grid, then the exact test per pixel
  const ex = Math.abs(hw * c) + Math.abs(hh * s);
  const ey = Math.abs(hw * s) + Math.abs(hh * c);
  const j0 = Math.max(0, Math.floor((g.cx - ex) / sx - 0.5));
  const j1 = Math.min(C - 1, Math.ceil((g.cx + ex) / sx - 0.5));
  const i0 = Math.max(0, Math.floor((g.cy - ey) / sy - 0.5));
  const i1 = Math.min(C - 1, Math.ceil((g.cy + ey) / sy - 0.5));
  const eps = 1e-9;
  for (let i = i0; i <= i1; i++) {
    const dy = (i + 0.5) * sy - g.cy;
    for (let j = j0; j <= j1; j++) {
      const dx = (j + 0.5) * sx - g.cx;
      const a = dx * c + dy * s;
      const b = -dx * s + dy * c;
      if (Math.abs(a) <= hw + eps && Math.abs(b) <= hh + eps) out[offset + i * C + j] = 1;
    }
  }
}
