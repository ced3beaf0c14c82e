/**
 * An independent float64 reference of the official CIM ViT forward pass and loss
 * (weivision/Correlational-Image-Modeling, `models/cim.py` `CorrelationalAutoencoderViT` with the
 * correlation loss only, and `models/nn_util.py`), written from the authors' code and
 * fixtures/README.md — deliberately NOT from libs/cim/src/{nn,head,vit}/*. Plain TypeScript, naive
 * loops on Float64Array, no tfjs. Works on PyTorch names and layouts: Linear weight [out, in],
 * Conv2d weight [out, in, kh, kw], images NCHW.
 *
 * Official semantics reproduced here:
 *   forward_encoder: templates → patch_embed (conv, stride p) → [cls_token; patches] +
 *     interpolate_pos_encoding(pos_embed) → blocks → norm. Context → patch_embed_c → same cls_token
 *     and pos_embed → blocks_c → norm_c, under no_grad.
 *   interpolate_pos_encoding: unchanged when the grid is the img_size grid, else the patch rows
 *     go through F.interpolate(bicubic, scale_factor=(g+0.1)/G, align_corners=False); cls row kept.
 *   Block: x += proj(attn(norm1(x))); x += fc2(gelu(fc1(norm2(x)))), qkv split (3, heads, hd).
 *   forward_mask_decoder: decoder_embed on both, + decoder_pos_embed on the context, CrossBlock
 *     (q from norm1(context), kv from norm1(template), kv split (2, heads, hd)), decoder_norm,
 *     drop cls, [B, Dd, g, g], 1×1 conv to 2, bilinear upsample (align_corners=True) to C×C.
 *   forward_mask_loss: Σ over templates of nn.CrossEntropyLoss (mean over B·C·C pixels).
 * LayerNorm eps 1e-6, exact erf GELU, attention scale head_dim^-0.5, every Linear has a bias.
 */

export interface RefConfig {
  imgSize: number;
  patchSize: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  decoderEmbedDim: number;
  decoderNumHeads: number;
  contextSize: number;
  templateSize: number;
  numTemplates: number;
}

export interface RefInputs {
  /** [B, 3, C, C] */
  context: Float64Array;
  /** numTemplates arrays, each [B, 3, S, S] */
  templates: Float64Array[];
  /** numTemplates arrays, each [B, C, C], values 0/1 */
  masks: Uint8Array[];
}

export interface RefOutput {
  /** numTemplates arrays, each [B, 2, C, C] */
  logits: Float64Array[];
  loss: number;
  /**
   * The target encoder's output, B × (1 + gc²) × D. Pass it back through `opts.contextTokens` to
   * treat the context branch as a constant (PyTorch's no_grad): needed for finite differences of the
   * shared cls_token, which the official gradient sees through the templates only.
   */
  contextTokens: Float64Array;
}

const LN_EPS = 1e-6;

// ---------------------------------------------------------------------------------------------
// scalar math

/**
 * erf in float64. |x| < 6: erf(x) = 2/√π · e^{-x²} · Σ_{n≥0} 2ⁿ x^{2n+1} / (2n+1)!! — every term
 * has the sign of x, so there is no cancellation and the sum is good to a few ulps. |x| ≥ 6:
 * erfc(6) ≈ 2e-17, below double resolution next to 1.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return x > 0 ? 1 : -1;
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  return x < 0 ? -r : r;
}

/** PyTorch's default nn.GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2)). */
export function geluExact(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** PyTorch's bicubic convolution kernel weights for fractional offset t, A = -0.75. */
function cubicWeights(t: number): [number, number, number, number] {
  const A = -0.75;
  const c1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| <= 1
  const c2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
  return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)];
}

// ---------------------------------------------------------------------------------------------
// position embeddings

/**
 * MAE's get_2d_sincos_pos_embed(dim, grid, cls_token=True) as a flat [(1 + grid²) × dim] array:
 * row 0 is zeros (cls), row 1 + i·grid + j is position (h = i, w = j) =
 * [sin(j·ω), cos(j·ω), sin(i·ω), cos(i·ω)] with ω_k = 10000^(−k/(dim/4)), k < dim/4
 * (np.meshgrid(grid_w, grid_h) puts the w coordinate in grid[0], which feeds the first half).
 */
export function referenceSincos(dim: number, grid: number): Float64Array {
  if (dim % 4 !== 0) throw new Error('sin-cos needs dim % 4 == 0');
  const q = dim / 4;
  const out = new Float64Array((1 + grid * grid) * dim);
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      const row = (1 + i * grid + j) * dim;
      for (let k = 0; k < q; k++) {
        const omega = 1 / Math.pow(10000, k / q);
        out[row + k] = Math.sin(j * omega);
        out[row + q + k] = Math.cos(j * omega);
        out[row + 2 * q + k] = Math.sin(i * omega);
        out[row + 3 * q + k] = Math.cos(i * omega);
      }
    }
  }
  return out;
}

/**
 * 1-D taps of F.interpolate(mode='bicubic', scale_factor=sf, align_corners=False) from `inSize`
 * to `outSize`: src = (dst + 0.5)/sf − 0.5, x0 = floor(src), taps x0−1..x0+2 clamped to the border.
 */
function bicubicTaps(inSize: number, outSize: number, sf: number): Array<{ idx: number[]; w: number[] }> {
  const taps: Array<{ idx: number[]; w: number[] }> = [];
  for (let o = 0; o < outSize; o++) {
    const src = (o + 0.5) / sf - 0.5;
    const x0 = Math.floor(src);
    const t = src - x0;
    const idx = [x0 - 1, x0, x0 + 1, x0 + 2].map((v) => Math.min(Math.max(v, 0), inSize - 1));
    taps.push({ idx, w: cubicWeights(t) });
  }
  return taps;
}

/**
 * The official interpolate_pos_encoding on a flat [(1 + G²) × dim] table: returned unchanged when
 * g == G, else the cls row is kept and the G×G patch grid (row-major h, w) is resized bicubically
 * to g×g with scale_factor (g + 0.1)/G (PyTorch asserts int(g + 0.1) output rows, i.e. g).
 */
export function referenceResizePosEmbed(posEmbed: Float64Array, dim: number, g: number): Float64Array {
  const G = Math.round(Math.sqrt(posEmbed.length / dim - 1));
  if ((1 + G * G) * dim !== posEmbed.length) throw new Error('pos embed is not 1 + G² rows');
  if (g === G) return Float64Array.from(posEmbed);
  const sf = (g + 0.1) / G;
  if (Math.floor(G * sf) !== g) throw new Error(`bicubic output size ${Math.floor(G * sf)} != ${g}`);
  const taps = bicubicTaps(G, g, sf);
  const out = new Float64Array((1 + g * g) * dim);
  for (let d = 0; d < dim; d++) out[d] = posEmbed[d];
  for (let oy = 0; oy < g; oy++) {
    const ty = taps[oy];
    for (let ox = 0; ox < g; ox++) {
      const tx = taps[ox];
      const dst = (1 + oy * g + ox) * dim;
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const w = ty.w[a] * tx.w[b];
          const src = (1 + ty.idx[a] * G + tx.idx[b]) * dim;
          for (let d = 0; d < dim; d++) out[dst + d] += w * posEmbed[src + d];
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// layers on one sequence: x is [N × dim], row-major

type W = Map<string, Float64Array>;

function get(w: W, name: string): Float64Array {
  const v = w.get(name);
  if (!v) throw new Error(`reference: missing weight ${name}`);
  return v;
}

/** y[n, o] = b[o] + Σ_i x[n, i]·W[o, i] (PyTorch Linear, weight [out, in]). */
function linear(x: Float64Array, N: number, inD: number, weight: Float64Array, bias: Float64Array, outD: number): Float64Array {
  if (weight.length !== outD * inD || bias.length !== outD) throw new Error('reference: linear shape mismatch');
  const y = new Float64Array(N * outD);
  for (let n = 0; n < N; n++) {
    const xo = n * inD;
    for (let o = 0; o < outD; o++) {
      const wo = o * inD;
      let s = bias[o];
      for (let i = 0; i < inD; i++) s += x[xo + i] * weight[wo + i];
      y[n * outD + o] = s;
    }
  }
  return y;
}

function layerNorm(x: Float64Array, N: number, D: number, gamma: Float64Array, beta: Float64Array): Float64Array {
  const y = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    const o = n * D;
    let mean = 0;
    for (let d = 0; d < D; d++) mean += x[o + d];
    mean /= D;
    let v = 0;
    for (let d = 0; d < D; d++) v += (x[o + d] - mean) ** 2;
    v /= D;
    const inv = 1 / Math.sqrt(v + LN_EPS);
    for (let d = 0; d < D; d++) y[o + d] = (x[o + d] - mean) * inv * gamma[d] + beta[d];
  }
  return y;
}

/**
 * Multi-head attention: q [Nq × D] (q for head h in columns h·hd..), k and v rows of length
 * `kvStride` with head h's key at kOff + h·hd and value at vOff + h·hd. Output [Nq × D], heads
 * concatenated in order (PyTorch's transpose(1, 2).reshape).
 */
function mha(
  q: Float64Array,
  Nq: number,
  qStride: number,
  qOff: number,
  kv: Float64Array,
  Nk: number,
  kvStride: number,
  kOff: number,
  vOff: number,
  D: number,
  heads: number,
): Float64Array {
  const hd = D / heads;
  const scale = Math.pow(hd, -0.5);
  const out = new Float64Array(Nq * D);
  const logits = new Float64Array(Nk);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < Nq; i++) {
      const qo = i * qStride + qOff + h * hd;
      let mx = -Infinity;
      for (let j = 0; j < Nk; j++) {
        const ko = j * kvStride + kOff + h * hd;
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[qo + d] * kv[ko + d];
        s *= scale;
        logits[j] = s;
        if (s > mx) mx = s;
      }
      let z = 0;
      for (let j = 0; j < Nk; j++) {
        logits[j] = Math.exp(logits[j] - mx);
        z += logits[j];
      }
      const oo = i * D + h * hd;
      for (let j = 0; j < Nk; j++) {
        const p = logits[j] / z;
        const vo = j * kvStride + vOff + h * hd;
        for (let d = 0; d < hd; d++) out[oo + d] += p * kv[vo + d];
      }
    }
  }
  return out;
}

function mlp(w: W, prefix: string, x: Float64Array, N: number, D: number, hidden: number): Float64Array {
  const h = linear(x, N, D, get(w, `${prefix}.fc1.weight`), get(w, `${prefix}.fc1.bias`), hidden);
  for (let i = 0; i < h.length; i++) h[i] = geluExact(h[i]);
  return linear(h, N, hidden, get(w, `${prefix}.fc2.weight`), get(w, `${prefix}.fc2.bias`), D);
}

function addInPlace(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

/** timm-style pre-norm ViT Block (nn_util.Block) on one sequence. */
function block(w: W, prefix: string, x0: Float64Array, N: number, D: number, heads: number, hidden: number): Float64Array {
  const x = Float64Array.from(x0);
  const n1 = layerNorm(x, N, D, get(w, `${prefix}.norm1.weight`), get(w, `${prefix}.norm1.bias`));
  const qkv = linear(n1, N, D, get(w, `${prefix}.attn.qkv.weight`), get(w, `${prefix}.attn.qkv.bias`), 3 * D);
  // qkv.reshape(B, N, 3, heads, hd): q = columns [0, D), k = [D, 2D), v = [2D, 3D)
  const a = mha(qkv, N, 3 * D, 0, qkv, N, 3 * D, D, 2 * D, D, heads);
  addInPlace(x, linear(a, N, D, get(w, `${prefix}.attn.proj.weight`), get(w, `${prefix}.attn.proj.bias`), D));
  const n2 = layerNorm(x, N, D, get(w, `${prefix}.norm2.weight`), get(w, `${prefix}.norm2.bias`));
  addInPlace(x, mlp(w, `${prefix}.mlp`, n2, N, D, hidden));
  return x;
}

/** nn_util.CrossBlock(x, t) on one pair of sequences: queries from x, keys/values from t. */
function crossBlock(
  w: W,
  prefix: string,
  x0: Float64Array,
  Nx: number,
  t: Float64Array,
  Nt: number,
  D: number,
  heads: number,
  hidden: number,
): Float64Array {
  const x = Float64Array.from(x0);
  const g1 = get(w, `${prefix}.norm1.weight`);
  const b1 = get(w, `${prefix}.norm1.bias`);
  const nx = layerNorm(x, Nx, D, g1, b1);
  const nt = layerNorm(t, Nt, D, g1, b1);
  const kv = linear(nt, Nt, D, get(w, `${prefix}.attn.kv.weight`), get(w, `${prefix}.attn.kv.bias`), 2 * D);
  const q = linear(nx, Nx, D, get(w, `${prefix}.attn.q.weight`), get(w, `${prefix}.attn.q.bias`), D);
  // kv.reshape(B, Nt, 2, heads, hd): k = columns [0, D), v = [D, 2D)
  const a = mha(q, Nx, D, 0, kv, Nt, 2 * D, 0, D, D, heads);
  addInPlace(x, linear(a, Nx, D, get(w, `${prefix}.attn.proj.weight`), get(w, `${prefix}.attn.proj.bias`), D));
  const n2 = layerNorm(x, Nx, D, get(w, `${prefix}.norm2.weight`), get(w, `${prefix}.norm2.bias`));
  addInPlace(x, mlp(w, `${prefix}.mlp`, n2, Nx, D, hidden));
  return x;
}

// ---------------------------------------------------------------------------------------------
// the model

/**
 * One encoder branch for a batch of NCHW images [B, 3, S, S]: conv patch embedding, cls token,
 * resized pos embed, blocks, final norm. Returns B sequences of (1 + g²) × D.
 */
function encode(
  w: W,
  cfg: RefConfig,
  imgs: Float64Array,
  B: number,
  S: number,
  names: { patch: string; blocks: string; norm: string },
): Float64Array[] {
  const D = cfg.embedDim;
  const p = cfg.patchSize;
  const g = S / p;
  if (!Number.isInteger(g)) throw new Error('image size not a multiple of the patch size');
  if (imgs.length !== B * 3 * S * S) throw new Error(`image array has ${imgs.length} values, expected ${B * 3 * S * S}`);
  const N = 1 + g * g;
  const convW = get(w, `${names.patch}.proj.weight`);
  const convB = get(w, `${names.patch}.proj.bias`);
  const cls = get(w, 'cls_token');
  const pos = referenceResizePosEmbed(get(w, 'pos_embed'), D, g);
  const hidden = Math.floor(D * cfg.mlpRatio);
  const out: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    let x: Float64Array = new Float64Array(N * D);
    for (let d = 0; d < D; d++) x[d] = cls[d] + pos[d];
    for (let gy = 0; gy < g; gy++) {
      for (let gx = 0; gx < g; gx++) {
        const row = (1 + gy * g + gx) * D;
        for (let d = 0; d < D; d++) {
          let s = convB[d];
          for (let c = 0; c < 3; c++) {
            for (let ky = 0; ky < p; ky++) {
              const ib = ((b * 3 + c) * S + gy * p + ky) * S + gx * p;
              const wb = ((d * 3 + c) * p + ky) * p;
              for (let kx = 0; kx < p; kx++) s += convW[wb + kx] * imgs[ib + kx];
            }
          }
          x[row + d] = s + pos[row + d];
        }
      }
    }
    for (let i = 0; i < cfg.depth; i++) x = block(w, `${names.blocks}.${i}`, x, N, D, cfg.numHeads, hidden);
    out.push(layerNorm(x, N, D, get(w, `${names.norm}.weight`), get(w, `${names.norm}.bias`)));
  }
  return out;
}

/** PyTorch nn.Upsample(bilinear, align_corners=True) 1-D taps from `inSize` to `outSize`. */
function bilinearTapsAligned(inSize: number, outSize: number): Array<{ i0: number; i1: number; l: number }> {
  const scale = outSize > 1 ? (inSize - 1) / (outSize - 1) : 0;
  const taps: Array<{ i0: number; i1: number; l: number }> = [];
  for (let o = 0; o < outSize; o++) {
    const src = scale * o;
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    taps.push({ i0, i1, l: src - i0 });
  }
  return taps;
}

export function referenceForward(
  weights: Map<string, Float64Array>,
  shapes: Map<string, number[]>,
  cfg: RefConfig,
  inputs: RefInputs,
  B: number,
  opts: { contextTokens?: Float64Array } = {},
): RefOutput {
  const D = cfg.embedDim;
  const Dd = cfg.decoderEmbedDim;
  const C = cfg.contextSize;
  const S = cfg.templateSize;
  const T = cfg.numTemplates;
  const p = cfg.patchSize;
  const gc = C / p;
  const Nc = 1 + gc * gc;
  const Nt = 1 + (S / p) ** 2;
  const G = cfg.imgSize / p;
  // shape sanity checks (PyTorch layouts)
  const expect = (name: string, shape: number[]) => {
    const s = shapes.get(name);
    if (!s || s.join('x') !== shape.join('x')) throw new Error(`reference: ${name} has shape ${s?.join('x')}, expected ${shape.join('x')}`);
    if (get(weights, name).length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`reference: ${name} has the wrong length`);
  };
  expect('pos_embed', [1, 1 + G * G, D]);
  expect('decoder_pos_embed', [1, Nc, Dd]);
  expect('patch_embed.proj.weight', [D, 3, p, p]);
  expect('patch_embed_c.proj.weight', [D, 3, p, p]);
  expect('cls_token', [1, 1, D]);
  expect('decoder_embed.weight', [Dd, D]);
  expect('decoder_corr_block.block.attn.kv.weight', [2 * Dd, Dd]);
  expect('decoder_pred_mask.0.weight', [2, Dd, 1, 1]);
  if (inputs.templates.length !== T || inputs.masks.length !== T) throw new Error('reference: wrong number of templates or masks');

  // target (momentum) encoder on the context: no gradient in the official code
  let contextTokens = opts.contextTokens;
  if (!contextTokens) {
    const seqs = encode(weights, cfg, inputs.context, B, C, { patch: 'patch_embed_c', blocks: 'blocks_c', norm: 'norm_c' });
    contextTokens = new Float64Array(B * Nc * D);
    seqs.forEach((s, b) => contextTokens!.set(s, b * Nc * D));
  }
  if (contextTokens.length !== B * Nc * D) throw new Error('reference: contextTokens has the wrong size');

  // decoder_embed + decoder_pos_embed on the context (shared by every template)
  const decW = get(weights, 'decoder_embed.weight');
  const decB = get(weights, 'decoder_embed.bias');
  const dpe = get(weights, 'decoder_pos_embed');
  const ctxDec: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    const x = linear(contextTokens.subarray(b * Nc * D, (b + 1) * Nc * D), Nc, D, decW, decB, Dd);
    addInPlace(x, dpe);
    ctxDec.push(x);
  }

  const dHidden = Math.floor(Dd * cfg.mlpRatio);
  const predW = get(weights, 'decoder_pred_mask.0.weight'); // [2, Dd, 1, 1]
  const predB = get(weights, 'decoder_pred_mask.0.bias');
  const up = bilinearTapsAligned(gc, C);
  const logitsOut: Float64Array[] = [];
  let loss = 0;
  for (let t = 0; t < T; t++) {
    const tmpl = encode(weights, cfg, inputs.templates[t], B, S, { patch: 'patch_embed', blocks: 'blocks', norm: 'norm' });
    const mask = inputs.masks[t];
    if (mask.length !== B * C * C) throw new Error('reference: mask has the wrong size');
    const logits = new Float64Array(B * 2 * C * C);
    let ce = 0;
    for (let b = 0; b < B; b++) {
      const td = linear(tmpl[b], Nt, D, decW, decB, Dd);
      let x = crossBlock(weights, 'decoder_corr_block.block', ctxDec[b], Nc, td, Nt, Dd, cfg.decoderNumHeads, dHidden);
      x = layerNorm(x, Nc, Dd, get(weights, 'decoder_norm.weight'), get(weights, 'decoder_norm.bias'));
      // drop cls; token 1 + i·gc + j is (h = i, w = j); 1×1 conv to 2 classes on the gc×gc grid
      const low = new Float64Array(2 * gc * gc);
      for (let k = 0; k < 2; k++) {
        for (let r = 0; r < gc * gc; r++) {
          let s = predB[k];
          for (let d = 0; d < Dd; d++) s += predW[k * Dd + d] * x[(1 + r) * Dd + d];
          low[k * gc * gc + r] = s;
        }
      }
      // bilinear, align_corners=True, to C×C
      for (let k = 0; k < 2; k++) {
        const L = low.subarray(k * gc * gc, (k + 1) * gc * gc);
        for (let oy = 0; oy < C; oy++) {
          const ty = up[oy];
          for (let ox = 0; ox < C; ox++) {
            const tx = up[ox];
            const top = (1 - tx.l) * L[ty.i0 * gc + tx.i0] + tx.l * L[ty.i0 * gc + tx.i1];
            const bot = (1 - tx.l) * L[ty.i1 * gc + tx.i0] + tx.l * L[ty.i1 * gc + tx.i1];
            logits[((b * 2 + k) * C + oy) * C + ox] = (1 - ty.l) * top + ty.l * bot;
          }
        }
      }
      // 2-class cross-entropy per pixel
      for (let pix = 0; pix < C * C; pix++) {
        const l0 = logits[b * 2 * C * C + pix];
        const l1 = logits[(b * 2 + 1) * C * C + pix];
        const m = Math.max(l0, l1);
        const lse = m + Math.log(Math.exp(l0 - m) + Math.exp(l1 - m));
        const y = mask[b * C * C + pix];
        if (y !== 0 && y !== 1) throw new Error('reference: mask values must be 0 or 1');
        ce += lse - (y === 1 ? l1 : l0);
      }
    }
    loss += ce / (B * C * C);
    logitsOut.push(logits);
  }
  return { logits: logitsOut, loss, contextTokens };
}

// ---------------------------------------------------------------------------------------------
// random weights and inputs (own PRNG: mulberry32 + Box–Muller), all float32-representable

export class RefRng {
  private s: number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.s = (seed ^ 0x5bd1e995) >>> 0;
    for (let i = 0; i < 4; i++) this.next();
  }
  /** uniform in [0, 1) */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

export interface RefStateDict {
  weights: Map<string, Float64Array>;
  shapes: Map<string, number[]>;
}

/**
 * PyTorch-named weights for every tensor of the official model's correlation path (the unused
 * contrastive-head MLPs aside), with sensible random scales: Linear weights N(0, 0.9/√in), biases
 * N(0, 0.05), LayerNorm weight 1 + N(0, 0.1) and bias N(0, 0.05), cls_token N(0, 0.2), the frozen
 * patch conv Xavier-uniform as in the official init with a small random bias, sin-cos buffers, a
 * small 1×1 prediction conv (logits O(1)), and a target encoder = online · (1 + N(0, 0.1)) + N(0, 0.02).
 * Values are rounded to float32 so a float32 model sees exactly the same numbers.
 */
export function randomStateDict(cfg: RefConfig, seed: number): RefStateDict {
  const rng = new RefRng(seed);
  const weights = new Map<string, Float64Array>();
  const shapes = new Map<string, number[]>();
  const D = cfg.embedDim;
  const Dd = cfg.decoderEmbedDim;
  const p = cfg.patchSize;
  const G = cfg.imgSize / p;
  const gc = cfg.contextSize / p;
  const hidden = Math.floor(D * cfg.mlpRatio);
  const dHidden = Math.floor(Dd * cfg.mlpRatio);
  const put = (name: string, shape: number[], f: (i: number) => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = Math.fround(f(i));
    weights.set(name, v);
    shapes.set(name, shape);
  };
  const lin = (name: string, inD: number, outD: number) => {
    put(`${name}.weight`, [outD, inD], () => (0.9 / Math.sqrt(inD)) * rng.normal());
    put(`${name}.bias`, [outD], () => 0.05 * rng.normal());
  };
  const ln = (name: string, dim: number) => {
    put(`${name}.weight`, [dim], () => 1 + 0.1 * rng.normal());
    put(`${name}.bias`, [dim], () => 0.05 * rng.normal());
  };
  const blk = (prefix: string, dim: number, hid: number) => {
    ln(`${prefix}.norm1`, dim);
    lin(`${prefix}.attn.qkv`, dim, 3 * dim);
    lin(`${prefix}.attn.proj`, dim, dim);
    ln(`${prefix}.norm2`, dim);
    lin(`${prefix}.mlp.fc1`, dim, hid);
    lin(`${prefix}.mlp.fc2`, hid, dim);
  };

  // online encoder
  const bound = Math.sqrt(6 / (3 * p * p + D));
  put('patch_embed.proj.weight', [D, 3, p, p], () => bound * (2 * rng.next() - 1));
  put('patch_embed.proj.bias', [D], () => 0.02 * rng.normal());
  put('cls_token', [1, 1, D], () => 0.2 * rng.normal());
  const pe = referenceSincos(D, G);
  put('pos_embed', [1, 1 + G * G, D], (i) => pe[i]);
  for (let i = 0; i < cfg.depth; i++) blk(`blocks.${i}`, D, hidden);
  ln('norm', D);

  // decoder
  lin('decoder_embed', D, Dd);
  const dpe = referenceSincos(Dd, gc);
  put('decoder_pos_embed', [1, 1 + gc * gc, Dd], (i) => dpe[i]);
  const cb = 'decoder_corr_block.block';
  ln(`${cb}.norm1`, Dd);
  lin(`${cb}.attn.q`, Dd, Dd);
  lin(`${cb}.attn.kv`, Dd, 2 * Dd);
  lin(`${cb}.attn.proj`, Dd, Dd);
  ln(`${cb}.norm2`, Dd);
  lin(`${cb}.mlp.fc1`, Dd, dHidden);
  lin(`${cb}.mlp.fc2`, dHidden, Dd);
  ln('decoder_norm', Dd);
  put('decoder_pred_mask.0.weight', [2, Dd, 1, 1], () => (0.5 / Math.sqrt(Dd)) * rng.normal());
  put('decoder_pred_mask.0.bias', [2], () => 0.1 * rng.normal());

  // target encoder: perturbed copies of the online one
  const onlineNames = [...weights.keys()].filter((n) => n.startsWith('patch_embed.') || n.startsWith('blocks.') || n.startsWith('norm.'));
  for (const n of onlineNames) {
    const src = weights.get(n)!;
    const tn = n
      .replace(/^patch_embed\./, 'patch_embed_c.')
      .replace(/^blocks\./, 'blocks_c.')
      .replace(/^norm\./, 'norm_c.');
    put(tn, shapes.get(n)!, (i) => src[i] * (1 + 0.1 * rng.normal()) + 0.02 * rng.normal());
  }
  return { weights, shapes };
}

/** Random normalized-looking NCHW inputs and blob-shaped 0/1 masks, float32-representable. */
export function randomInputs(cfg: RefConfig, B: number, seed: number): RefInputs {
  const rng = new RefRng(seed);
  const C = cfg.contextSize;
  const S = cfg.templateSize;
  const img = (n: number) => {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = Math.fround(rng.normal());
    return v;
  };
  const context = img(B * 3 * C * C);
  const templates: Float64Array[] = [];
  const masks: Uint8Array[] = [];
  for (let t = 0; t < cfg.numTemplates; t++) {
    templates.push(img(B * 3 * S * S));
    const m = new Uint8Array(B * C * C);
    for (let b = 0; b < B; b++) {
      // a random axis-aligned rectangle, as a correlation map would mark
      const w = 1 + rng.int(C - 1);
      const h = 1 + rng.int(C - 1);
      const x0 = rng.int(C - w + 1);
      const y0 = rng.int(C - h + 1);
      for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) m[(b * C + y) * C + x] = 1;
    }
    masks.push(m);
  }
  return { context, templates, masks };
}
