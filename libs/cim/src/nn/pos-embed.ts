/**
 * Fixed 2-D sin-cos position embeddings (MAE's get_2d_sincos_pos_embed) and their bicubic resize
 * exactly as PyTorch's `F.interpolate(mode='bicubic', scale_factor=s, align_corners=False)` does
 * it, which the official CIM code uses to move the img_size grid's embedding to other grids.
 * Plain JS on Float32Array: these are fixed buffers, computed once per model.
 */

/** [1 + grid², dim]: a zero row for the cls token, then row-major (h, w) positions. */
export function sincosPosEmbed2d(dim: number, grid: number, clsToken = true): Float32Array {
  if (dim % 4 !== 0) throw new Error(`sin-cos position embedding needs dim divisible by 4, got ${dim}`);
  const half = dim / 2;
  const quarter = dim / 4;
  const omega = new Float64Array(quarter);
  for (let i = 0; i < quarter; i++) omega[i] = 1 / 10000 ** (i / quarter);
  const rows = grid * grid + (clsToken ? 1 : 0);
  const out = new Float32Array(rows * dim);
  let r = clsToken ? 1 : 0;
  // MAE: grid = meshgrid(grid_w, grid_h); emb_h uses grid[0] (= w coordinate), emb_w uses grid[1] (= h).
  for (let h = 0; h < grid; h++) {
    for (let w = 0; w < grid; w++, r++) {
      const row = out.subarray(r * dim, (r + 1) * dim);
      for (let i = 0; i < quarter; i++) {
        const a = w * omega[i];
        const b = h * omega[i];
        row[i] = Math.sin(a);
        row[quarter + i] = Math.cos(a);
        row[half + i] = Math.sin(b);
        row[half + quarter + i] = Math.cos(b);
      }
    }
  }
  return out;
}

// PyTorch's cubic convolution coefficients, A = -0.75 (aten/src/ATen/native/UpSample.h).
const A = -0.75;
function cubic1(x: number): number {
  return ((A + 2) * x - (A + 3)) * x * x + 1;
}
function cubic2(x: number): number {
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
}
function cubicWeights(t: number): [number, number, number, number] {
  return [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
}

/**
 * Resize a [G, G, dim] grid to [g, g, dim] with bicubic interpolation as PyTorch does for
 * `scale_factor = (g + 0.1) / G`, align_corners=False: src = (dst + 0.5) / scale − 0.5, four taps
 * clamped to the border. Computed in float64, stored as float32.
 */
export function resizeGridBicubic(src: Float32Array, G: number, dim: number, g: number): Float32Array {
  const scale = (g + 0.1) / G;
  const taps: Array<{ idx: number[]; w: number[] }> = [];
  for (let o = 0; o < g; o++) {
    const real = (o + 0.5) / scale - 0.5;
    const i0 = Math.floor(real);
    const t = real - i0;
    const w = cubicWeights(t);
    const idx = [-1, 0, 1, 2].map((d) => Math.min(Math.max(i0 + d, 0), G - 1));
    taps.push({ idx, w });
  }
  const out = new Float32Array(g * g * dim);
  for (let oy = 0; oy < g; oy++) {
    const ty = taps[oy];
    for (let ox = 0; ox < g; ox++) {
      const tx = taps[ox];
      const o = (oy * g + ox) * dim;
      for (let c = 0; c < dim; c++) {
        let acc = 0;
        for (let a = 0; a < 4; a++) {
          let row = 0;
          const base = ty.idx[a] * G;
          for (let b = 0; b < 4; b++) row += tx.w[b] * src[(base + tx.idx[b]) * dim + c];
          acc += ty.w[a] * row;
        }
        out[o + c] = acc;
      }
    }
  }
  return out;
}

/**
 * The official `interpolate_pos_encoding`: keep the cls row, resize the patch rows from the
 * G×G grid to g×g; unchanged when g === G.
 */
export function resizePosEmbed(posEmbed: Float32Array, dim: number, g: number): Float32Array {
  const G = Math.round(Math.sqrt(posEmbed.length / dim - 1));
  if (G * G + 1 !== posEmbed.length / dim) throw new Error(`pos_embed has ${posEmbed.length / dim} rows, not 1 + a square`);
  if (g === G) return posEmbed.slice();
  const out = new Float32Array((1 + g * g) * dim);
  out.set(posEmbed.subarray(0, dim), 0);
  out.set(resizeGridBicubic(posEmbed.subarray(dim), G, dim, g), dim);
  return out;
}
