/**
 * ResNet forward pass (torchvision v1.5: the bottleneck's stride sits on its 3×3 conv) on NHWC
 * images, built from im2col convolutions and hand-differentiated BatchNorm so that it trains on
 * tfjs-wasm. Activations travel flat as [N·H·W, C] between convs.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients (relu, pad, slice, concat, maxPool); the union package does.
import '@tensorflow/tfjs';
import { fromTorch, ourShape } from '../nn/params.ts';
import { Rng } from '../rng.ts';
import { newVariable, assignValues } from '../nn/tensors.ts';
import { batchNorm } from './batch-norm.ts';
import { resnetOutDim, type ResNetConfig } from './config.ts';
import { conv2dFlat, maxPoolAfterRelu } from './conv.ts';
import { fusedTfKernels, tfRelu } from './tf-kernels.ts';
import { resnetBlocks, resnetParamSpecs, type ResNetParamSpec } from './params.ts';

export type ParamGetter = (name: string) => tf.Variable;

export interface ResNetRunOptions {
  /** batch statistics (and running-statistics updates) vs running statistics */
  training: boolean;
}

/** Stage outputs: stem (after the max pool, if any), then each of layer1..layerK, all [N, h, w, C]. */
export function forwardResNetStages(c: ResNetConfig, P: ParamGetter, x: tf.Tensor4D, opts: ResNetRunOptions): tf.Tensor4D[] {
  const n = x.shape[0];
  const bn = (y: tf.Tensor, name: string) =>
    batchNorm(
      y,
      { gamma: P(`${name}.weight`), beta: P(`${name}.bias`), runningMean: P(`${name}.running_mean`), runningVar: P(`${name}.running_var`) },
      opts.training,
      c.bnEps,
      c.bnMomentum,
    );
  const to4d = (y: tf.Tensor, h: number, w: number) => tf.reshape(y, [n, h, w, y.shape[1]!]) as tf.Tensor4D;
  /** conv (k//2 padding) → BN, flat [N·h·w, O] */
  const convBn = (inp: tf.Tensor4D, conv: string, norm: string, stride: number) => {
    const k = P(`${conv}.weight`).shape[0];
    const { y, h, w } = conv2dFlat(inp, P(`${conv}.weight`), stride, Math.floor(k / 2));
    return { y: bn(y, norm), h, w };
  };

  const relu = <T extends tf.Tensor>(y: T): T => (fusedTfKernels() ? tfRelu(y) : tf.relu(y));

  const stages: tf.Tensor4D[] = [];
  const stem = convBn(x, 'conv1', 'bn1', c.stem === 'imagenet' ? 2 : 1);
  let cur = to4d(relu(stem.y), stem.h, stem.w);
  if (c.stem === 'imagenet') cur = maxPoolAfterRelu(cur, 3, 2, 1);
  stages.push(cur);
  const blocks = resnetBlocks(c);
  let stage = blocks.length ? blocks[0].prefix.split('.')[0] : '';
  for (const b of blocks) {
    const thisStage = b.prefix.split('.')[0];
    if (thisStage !== stage) {
      stages.push(cur);
      stage = thisStage;
    }
    const p = b.prefix;
    let out: { y: tf.Tensor; h: number; w: number };
    if (c.block === 'bottleneck') {
      const a = convBn(cur, `${p}.conv1`, `${p}.bn1`, 1);
      const m = convBn(to4d(relu(a.y), a.h, a.w), `${p}.conv2`, `${p}.bn2`, b.stride);
      out = convBn(to4d(relu(m.y), m.h, m.w), `${p}.conv3`, `${p}.bn3`, 1);
    } else {
      const a = convBn(cur, `${p}.conv1`, `${p}.bn1`, b.stride);
      out = convBn(to4d(relu(a.y), a.h, a.w), `${p}.conv2`, `${p}.bn2`, 1);
    }
    const identity = b.downsample ? convBn(cur, `${p}.downsample.0`, `${p}.downsample.1`, b.stride).y : tf.reshape(cur, [-1, b.inDim]);
    cur = to4d(relu(tf.add(out.y, identity)), out.h, out.w);
  }
  if (blocks.length) stages.push(cur);
  return stages;
}

/** The final feature map [N, h, w, C]. */
export function forwardResNet(c: ResNetConfig, P: ParamGetter, x: tf.Tensor4D, opts: ResNetRunOptions): tf.Tensor4D {
  const stages = forwardResNetStages(c, P, x, opts);
  return stages[stages.length - 1];
}

/**
 * Feature map [N, h, w, C] → tokens [N, 1 + h·w, C]: a cls-like token (global average pool) then
 * the grid row-major, the ViT encoder's [B, 1 + N, D] contract that the correlation decoder reads.
 */
export function featuresToTokens(f: tf.Tensor4D): tf.Tensor3D {
  const [n, h, w, c] = f.shape;
  const grid = tf.reshape(f, [n, h * w, c]);
  return tf.concat([tf.mean(grid, 1, true), grid], 1) as tf.Tensor3D;
}

/** Create variables for `specs` from a seed (our layout). */
export function initResNetVariables(specs: ResNetParamSpec[], seed: number): Map<string, tf.Variable> {
  const rng = new Rng(seed);
  const out = new Map<string, tf.Variable>();
  for (const s of specs) {
    const v = new Float32Array(s.torchShape.reduce((a, b) => a * b, 1));
    s.init(rng, v);
    out.set(s.name, newVariable(tf.tensor(fromTorch(s, v), ourShape(s)), s.trainable));
  }
  return out;
}

/** A standalone ResNet that owns its variables (torchvision names, no prefix). */
export class ResNet {
  readonly config: ResNetConfig;
  readonly specs: ResNetParamSpec[];
  readonly params: Map<string, tf.Variable>;
  training = true;
  private disposed = false;

  constructor(config: ResNetConfig, seed = 0) {
    this.config = config;
    this.specs = resnetParamSpecs(config);
    this.params = initResNetVariables(this.specs, seed);
  }

  readonly p: ParamGetter = (name) => {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  };

  get outDim(): number {
    return resnetOutDim(this.config);
  }

  /** [N, S, S, 3] → stem and stage outputs. */
  forwardStages(x: tf.Tensor4D): tf.Tensor4D[] {
    return forwardResNetStages(this.config, this.p, x, { training: this.training });
  }

  /** [N, S, S, 3] → [N, h, w, C] */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return forwardResNet(this.config, this.p, x, { training: this.training });
  }

  /** [N, S, S, 3] → [N, 1 + h·w, C] */
  forwardTokens(x: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => featuresToTokens(this.forward(x)));
  }

  /** Load torchvision-named, PyTorch-layout weights (running statistics included). */
  loadStateDict(get: (name: string) => { shape: number[]; data: Float32Array } | undefined): void {
    for (const s of this.specs) {
      const src = get(s.name);
      if (!src) throw new Error(`checkpoint lacks parameter ${s.name}`);
      if (src.shape.join('×') !== s.torchShape.join('×'))
        throw new Error(`parameter ${s.name}: checkpoint shape ${src.shape.join('×')}, model expects ${s.torchShape.join('×')}`);
      assignValues(this.p(s.name), fromTorch(s, src.data));
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
  }
}
