/**
 * The parameter list of a CIM ViT, named as in the authors' PyTorch `state_dict`, with the layout
 * change between PyTorch and our tfjs tensors in one place:
 *   Linear weight   torch [out, in]          ↔ ours [in, out]
 *   patch conv      torch [D, 3, p, p]       ↔ ours [p, p, 3, D]   (tfjs conv2d filter)
 *   1×1 conv        torch [2, D, 1, 1]       ↔ ours [D, 2]          (a linear on tokens)
 */
import type { CimModelConfig } from './config.ts';
import type { Rng } from '../rng.ts';

export type ParamKind = 'linear' | 'patch-conv' | 'conv1x1' | 'plain';
export type ParamRole = 'online' | 'target' | 'decoder';

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

const zeros = () => (_: Rng, out: Float32Array) => out.fill(0);
const ones = () => (_: Rng, out: Float32Array) => out.fill(1);
const uniform = (a: number) => (rng: Rng, out: Float32Array) => {
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-a, a);
};
const normal = (std: number) => (rng: Rng, out: Float32Array) => {
  for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
};
/** xavier_uniform on a Linear [out, in]. */
const xavier = (fanOut: number, fanIn: number) => uniform(Math.sqrt(6 / (fanIn + fanOut)));

function linearSpecs(prefix: string, inDim: number, outDim: number, role: ParamRole, trainable: boolean): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, torchShape: [outDim, inDim], kind: 'linear', role, trainable, decay: true, init: xavier(outDim, inDim) },
    { name: `${prefix}.bias`, torchShape: [outDim], kind: 'plain', role, trainable, decay: false, init: zeros() },
  ];
}

function normSpecs(prefix: string, dim: number, role: ParamRole, trainable: boolean): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, torchShape: [dim], kind: 'plain', role, trainable, decay: false, init: ones() },
    { name: `${prefix}.bias`, torchShape: [dim], kind: 'plain', role, trainable, decay: false, init: zeros() },
  ];
}

function blockSpecs(prefix: string, dim: number, hidden: number, role: ParamRole, trainable: boolean): ParamSpec[] {
  return [
    ...normSpecs(`${prefix}.norm1`, dim, role, trainable),
    ...linearSpecs(`${prefix}.attn.qkv`, dim, 3 * dim, role, trainable),
    ...linearSpecs(`${prefix}.attn.proj`, dim, dim, role, trainable),
    ...normSpecs(`${prefix}.norm2`, dim, role, trainable),
    ...linearSpecs(`${prefix}.mlp.fc1`, dim, hidden, role, trainable),
    ...linearSpecs(`${prefix}.mlp.fc2`, hidden, dim, role, trainable),
  ];
}

/** Online encoder parameter name → its target-encoder twin (patch_embed → patch_embed_c, …). */
export function targetNameOf(onlineName: string): string {
  return onlineName
    .replace(/^patch_embed\./, 'patch_embed_c.')
    .replace(/^blocks\./, 'blocks_c.')
    .replace(/^norm\./, 'norm_c.');
}

export function cimParamSpecs(c: CimModelConfig): ParamSpec[] {
  const D = c.embedDim;
  const Dd = c.decoderEmbedDim;
  const p = c.patchSize;
  const hidden = Math.floor(D * c.mlpRatio);
  const dHidden = Math.floor(Dd * c.mlpRatio);
  const patchBound = Math.sqrt(6 / (3 * p * p + D));
  const online: ParamSpec[] = [
    // frozen at its random init (MoCo v3's trick): no gradient, no optimizer state
    {
      name: 'patch_embed.proj.weight',
      torchShape: [D, 3, p, p],
      kind: 'patch-conv',
      role: 'online',
      trainable: false,
      decay: true,
      init: uniform(patchBound),
    },
    { name: 'patch_embed.proj.bias', torchShape: [D], kind: 'plain', role: 'online', trainable: false, decay: false, init: zeros() },
    { name: 'cls_token', torchShape: [1, 1, D], kind: 'plain', role: 'online', trainable: true, decay: true, init: normal(0.02) },
  ];
  for (let i = 0; i < c.depth; i++) online.push(...blockSpecs(`blocks.${i}`, D, hidden, 'online', true));
  online.push(...normSpecs('norm', D, 'online', true));
  const decoder: ParamSpec[] = [
    ...linearSpecs('decoder_embed', D, Dd, 'decoder', true),
    ...normSpecs('decoder_corr_block.block.norm1', Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.attn.kv', Dd, 2 * Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.attn.q', Dd, Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.attn.proj', Dd, Dd, 'decoder', true),
    ...normSpecs('decoder_corr_block.block.norm2', Dd, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.mlp.fc1', Dd, dHidden, 'decoder', true),
    ...linearSpecs('decoder_corr_block.block.mlp.fc2', dHidden, Dd, 'decoder', true),
    ...normSpecs('decoder_norm', Dd, 'decoder', true),
    // Conv2d init of the official _init_weights: normal(0, sqrt(2 / (1·1·out))); bias: PyTorch's default
    {
      name: 'decoder_pred_mask.0.weight',
      torchShape: [2, Dd, 1, 1],
      kind: 'conv1x1',
      role: 'decoder',
      trainable: true,
      decay: true,
      init: normal(Math.sqrt(2 / 2)),
    },
    {
      name: 'decoder_pred_mask.0.bias',
      torchShape: [2],
      kind: 'plain',
      role: 'decoder',
      trainable: true,
      decay: false,
      init: uniform(1 / Math.sqrt(Dd)),
    },
  ];
  const target: ParamSpec[] = online
    .filter((s) => s.name !== 'cls_token')
    .map((s) => ({ ...s, name: targetNameOf(s.name), role: 'target' as const, trainable: false }));
  return [...online, ...decoder, ...target];
}
