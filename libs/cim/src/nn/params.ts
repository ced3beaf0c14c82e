/**
 * Parameter specs for any model, named as in the authors' PyTorch `state_dict`, with the layout
 * change between PyTorch and our tfjs tensors in one place:
 *   Linear weight   torch [out, in]          ↔ ours [in, out]
 *   patch conv      torch [D, 3, p, p]       ↔ ours [p, p, 3, D]   (tfjs conv2d filter)
 *   1×1 conv        torch [2, D, 1, 1]       ↔ ours [D, 2]          (a linear on tokens)
 * and the initialisers and the spec groups (Linear, LayerNorm) every model builds from.
 */
import type { Rng } from '@cim-forge/random';

export type ParamKind = 'linear' | 'patch-conv' | 'conv1x1' | 'plain';
export type ParamRole = 'online' | 'target' | 'decoder';

/** A tensor on the host in PyTorch layout. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export interface ParamSpec {
  name: string;
  /** PyTorch shape */
  torchShape: number[];
  kind: ParamKind;
  role: ParamRole;
  /** gets gradients and optimizer updates */
  trainable: boolean;
  /** weight decay applies (ndim > 1 and not a bias), as the official optimizer groups do */
  decay: boolean;
  /** a running statistic (BatchNorm's): saved and loaded, updated by the forward, no gradient, no EMA */
  buffer?: boolean;
  init: (rng: Rng, out: Float32Array) => void;
}

export function ourShape(s: ParamSpec): number[] {
  const t = s.torchShape;
  switch (s.kind) {
    case 'linear':
      return [t[1], t[0]];
    case 'patch-conv':
      return [t[2], t[3], t[1], t[0]];
    case 'conv1x1':
      return [t[1], t[0]];
    default:
      return t;
  }
}

/** Reorder a PyTorch-layout array to ours. */
export function fromTorch(s: ParamSpec, src: Float32Array): Float32Array {
  const t = s.torchShape;
  if (s.kind === 'plain') return Float32Array.from(src);
  if (s.kind === 'linear' || s.kind === 'conv1x1') return transpose2d(src, t[0], t[1]);
  const [o, c, kh, kw] = t;
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < c; b++)
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * c + b) * o + a] = src[((a * c + b) * kh + y) * kw + x];
  return out;
}

/** Reorder one of our arrays to PyTorch layout. */
export function toTorch(s: ParamSpec, src: Float32Array): Float32Array {
  const t = s.torchShape;
  if (s.kind === 'plain') return Float32Array.from(src);
  if (s.kind === 'linear' || s.kind === 'conv1x1') return transpose2d(src, t[1], t[0]);
  const [o, c, kh, kw] = t;
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < c; b++)
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((a * c + b) * kh + y) * kw + x] = src[((y * kw + x) * c + b) * o + a];
  return out;
}

function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

export const zeros = () => (_: Rng, out: Float32Array) => out.fill(0);
export const ones = () => (_: Rng, out: Float32Array) => out.fill(1);
export const uniform = (a: number) => (rng: Rng, out: Float32Array) => {
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-a, a);
};
export const normal = (std: number) => (rng: Rng, out: Float32Array) => {
  for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
};
/** xavier_uniform on a Linear [out, in]. */
export const xavier = (fanOut: number, fanIn: number) => uniform(Math.sqrt(6 / (fanIn + fanOut)));

export function linearSpecs(prefix: string, inDim: number, outDim: number, role: ParamRole, trainable: boolean): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, torchShape: [outDim, inDim], kind: 'linear', role, trainable, decay: true, init: xavier(outDim, inDim) },
    { name: `${prefix}.bias`, torchShape: [outDim], kind: 'plain', role, trainable, decay: false, init: zeros() },
  ];
}

export function normSpecs(prefix: string, dim: number, role: ParamRole, trainable: boolean): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, torchShape: [dim], kind: 'plain', role, trainable, decay: false, init: ones() },
    { name: `${prefix}.bias`, torchShape: [dim], kind: 'plain', role, trainable, decay: false, init: zeros() },
  ];
}
