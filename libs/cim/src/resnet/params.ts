/**
 * ResNet parameters named as torchvision's `state_dict` (conv1, bn1, layerK.J.convI, downsample.0/1),
 * in the ParamSpec form of model/params.ts so the same layout converters apply: a conv weight is
 * torch [O, C, kh, kw] ↔ ours [kh, kw, C, O] (kind 'patch-conv'). BatchNorm running statistics
 * are buffers: never trained, never averaged into the target, updated by their own forward.
 */
import type { ParamRole, ParamSpec } from '../nn/params.ts';
import type { Rng } from '../rng.ts';
import { BOTTLENECK_EXPANSION, type ResNetConfig } from './config.ts';

export interface ResNetParamSpec extends ParamSpec {
  /** a BatchNorm running statistic */
  buffer: boolean;
}

const fill = (v: number) => (_: Rng, out: Float32Array) => out.fill(v);
/** torchvision: kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = √(2 / (O·kh·kw)) */
const kaimingFanOut = (o: number, k: number) => (rng: Rng, out: Float32Array) => {
  const std = Math.sqrt(2 / (o * k * k));
  for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
};

export interface ResNetBlockSpec {
  prefix: string;
  inDim: number;
  width: number;
  outDim: number;
  stride: number;
  downsample: boolean;
}

/** The blocks in order, with their channel counts and strides. */
export function resnetBlocks(c: ResNetConfig): ResNetBlockSpec[] {
  const exp = c.block === 'bottleneck' ? BOTTLENECK_EXPANSION : 1;
  const out: ResNetBlockSpec[] = [];
  let inDim = c.stemWidth;
  c.layers.forEach((n, si) => {
    for (let j = 0; j < n; j++) {
      const stride = j === 0 ? c.strides[si] : 1;
      const width = c.widths[si];
      const outDim = width * exp;
      out.push({ prefix: `layer${si + 1}.${j}`, inDim, width, outDim, stride, downsample: stride !== 1 || inDim !== outDim });
      inDim = outDim;
    }
  });
  return out;
}

export function resnetParamSpecs(c: ResNetConfig, prefix = '', role: ParamRole = 'online', trainable = true): ResNetParamSpec[] {
  const specs: ResNetParamSpec[] = [];
  const conv = (name: string, o: number, i: number, k: number) =>
    specs.push({
      name: `${prefix}${name}.weight`,
      torchShape: [o, i, k, k],
      kind: 'patch-conv',
      role,
      trainable,
      decay: true,
      init: kaimingFanOut(o, k),
      buffer: false,
    });
  const bn = (name: string, d: number) => {
    const p = (n: string, init: number, buffer: boolean) =>
      specs.push({
        name: `${prefix}${name}.${n}`,
        torchShape: [d],
        kind: 'plain',
        role,
        trainable: trainable && !buffer,
        decay: false,
        init: fill(init),
        buffer,
      });
    p('weight', 1, false);
    p('bias', 0, false);
    p('running_mean', 0, true);
    p('running_var', 1, true);
  };
  conv('conv1', c.stemWidth, 3, c.stem === 'imagenet' ? 7 : 3);
  bn('bn1', c.stemWidth);
  for (const b of resnetBlocks(c)) {
    if (c.block === 'bottleneck') {
      conv(`${b.prefix}.conv1`, b.width, b.inDim, 1);
      bn(`${b.prefix}.bn1`, b.width);
      conv(`${b.prefix}.conv2`, b.width, b.width, 3);
      bn(`${b.prefix}.bn2`, b.width);
      conv(`${b.prefix}.conv3`, b.outDim, b.width, 1);
      bn(`${b.prefix}.bn3`, b.outDim);
    } else {
      conv(`${b.prefix}.conv1`, b.width, b.inDim, 3);
      bn(`${b.prefix}.bn1`, b.width);
      conv(`${b.prefix}.conv2`, b.outDim, b.width, 3);
      bn(`${b.prefix}.bn2`, b.outDim);
    }
    if (b.downsample) {
      conv(`${b.prefix}.downsample.0`, b.outDim, b.inDim, 1);
      bn(`${b.prefix}.downsample.1`, b.outDim);
    }
  }
  return specs;
}

/** Learnable parameters (conv weights, BN γ and β), buffers excluded: ResNet-50 → 23,508,032. */
export function countResNetParams(c: ResNetConfig): number {
  return resnetParamSpecs(c)
    .filter((s) => !s.buffer)
    .reduce((a, s) => a + s.torchShape.reduce((x, y) => x * y, 1), 0);
}
