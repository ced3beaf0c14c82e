/**
 * The ResNet's heavy ops as libtensorflow's own kernels, registered for the `tensorflow` backend
 * only (wasm, cpu and webgpu keep the composite paths of conv.ts and batch-norm.ts).
 *
 * The tfjs-node binding runs any TensorFlow op by name (`executeSingleOutput` /
 * `executeMultipleOutputs`), so these kernels call TF 1.15's fused ops directly:
 *
 * - `CimConv2D`: Conv2D with PyTorch's zero padding given to the kernel (SAME, VALID or EXPLICIT),
 *   so no PadV2 copy of the input; its gradients are Conv2DBackpropInput / Conv2DBackpropFilter
 *   with the same padding, each computed only when asked for (the image's own gradient is not).
 * - `CimBatchNorm`: FusedBatchNormV2 (training: batch statistics, one pass; eval: running
 *   statistics) and FusedBatchNormGradV2, in place of moments plus ~15 element-wise ops and their
 *   gradients. Training returns the batch mean and the unbiased batch variance for the running
 *   statistics, as PyTorch updates them.
 * - `CimRelu`: Relu whose gradient is ReluGrad(dy, y); tfjs' own ReLU gradient is dy·step(x), and
 *   the node backend's Step builds six full-size tensors (isNaN, greater, ones, fill, where, select).
 *
 * docs/benchmarks.md, "Fine-tuning a ResNet", has the per-kernel profile these replace.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { nativeKernels } from '../nn/kernel-style.ts';
import {
  dnnlBatchNormGrad,
  dnnlBatchNormOn,
  dnnlBatchNormTrain,
  dnnlConvBackwardData,
  dnnlConvBackwardWeights,
  dnnlConvForward,
  dnnlConvOn,
} from './dnnl-conv.ts';

const BACKEND = 'tensorflow';

/** The parts of tfjs-node's NodeJSKernelBackend used here. */
interface TfBackend {
  binding: Record<string, number>;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: TensorInfo[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: TensorInfo[], numOutputs: number): tf.Tensor[];
}
interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

let fusedOn = true;

/** Turn the fused tensorflow kernels off (tests and `bench:train --kernels compare` measure both). */
export function setFusedTfKernels(on: boolean): void {
  fusedOn = on;
}

/** True when the ResNet runs on this file's kernels: the tensorflow backend in the `native` kernel style. */
export function fusedTfKernels(): boolean {
  return fusedOn && nativeKernels() && tf.getBackend() === BACKEND;
}

function backendOf(b: unknown): TfBackend {
  return b as TfBackend;
}
const floatT = (be: TfBackend, name = 'T'): OpAttr => ({ name, type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_FLOAT });
const str = (be: TfBackend, name: string, value: string): OpAttr => ({ name, type: be.binding.TF_ATTR_STRING, value });
const ints = (be: TfBackend, name: string, value: number[]): OpAttr => ({ name, type: be.binding.TF_ATTR_INT, value });

/** PyTorch's symmetric zero padding `pad` as TF's padding attributes, for a k×k kernel at `stride` on side `h`×`w`. */
function convAttrs(be: TfBackend, k: number, stride: number, pad: number, h: number, w: number): OpAttr[] {
  const base = [
    floatT(be),
    ints(be, 'strides', [1, stride, stride, 1]),
    str(be, 'data_format', 'NHWC'),
    ints(be, 'dilations', [1, 1, 1, 1]),
  ];
  if (pad === 0) return [...base, str(be, 'padding', 'VALID')];
  // SAME pads ⌊total/2⌋ before and the rest after: PyTorch's (pad, pad) exactly when total = 2·pad on both axes
  const sameTotal = (side: number) => Math.max((Math.ceil(side / stride) - 1) * stride + k - side, 0);
  const outSide = (side: number) => Math.floor((side + 2 * pad - k) / stride) + 1;
  if (sameTotal(h) === 2 * pad && sameTotal(w) === 2 * pad && outSide(h) === Math.ceil(h / stride) && outSide(w) === Math.ceil(w / stride))
    return [...base, str(be, 'padding', 'SAME')];
  return [...base, str(be, 'padding', 'EXPLICIT'), ints(be, 'explicit_paddings', [0, 0, pad, pad, pad, pad, 0, 0])];
}

interface ConvAttrs {
  stride: number;
  pad: number;
}

/** One convolution kernel (forward, dx or dFilter) as CimConv2D runs it; exported for the kernel test and `bench:conv`. */
export function convOp(
  kind: 'fwd' | 'dx' | 'dw',
  x: TensorInfo,
  filter: TensorInfo,
  dy: TensorInfo | undefined,
  a: ConvAttrs,
  backend: unknown,
): tf.Tensor {
  // oneDNN's kernels (dnnl-conv.ts) when built (by default with the zero-copy bridge): 2–4× TF 1.15's (docs/benchmarks.md)
  if (dnnlConvOn(backend)) {
    const kb = backend as tf.KernelBackend;
    if (kind === 'fwd') return dnnlConvForward(kb, x, filter, a.stride, a.pad);
    if (kind === 'dx') return dnnlConvBackwardData(kb, dy!, filter, x.shape, a.stride, a.pad);
    return dnnlConvBackwardWeights(kb, x, dy!, filter.shape, a.stride, a.pad);
  }
  const be = backendOf(backend);
  const [, h, w] = x.shape;
  const attrs = convAttrs(be, filter.shape[0], a.stride, a.pad, h, w);
  if (kind === 'fwd') return be.executeSingleOutput('Conv2D', attrs, [x, filter]);
  if (kind === 'dx') {
    // stride 1 with "same" padding and C ≥ 32: dx is the forward convolution of dy with the filter
    // flipped in space and its channels swapped, and TF 1.15's Conv2D is 2–4× faster there than
    // its Conv2DBackpropInput (docs/benchmarks.md, the per-kernel table)
    const [k, , c] = filter.shape;
    if (a.stride === 1 && 2 * a.pad === k - 1 && c >= 32)
      return tf.tidy(() =>
        be.executeSingleOutput('Conv2D', attrs, [dy!, tf.reverse(tf.transpose(filter as tf.Tensor, [0, 1, 3, 2]), [0, 1])]),
      );
    return be.executeSingleOutput('Conv2DBackpropInput', attrs, [tf.tensor1d(x.shape, 'int32'), filter, dy!]);
  }
  return be.executeSingleOutput('Conv2DBackpropFilter', attrs, [x, tf.tensor1d(filter.shape, 'int32'), dy!]);
}

interface BnAttrs {
  eps: number;
  training: boolean;
}
function bnAttrs(be: TfBackend, a: BnAttrs): OpAttr[] {
  return [
    floatT(be),
    floatT(be, 'U'),
    { name: 'epsilon', type: be.binding.TF_ATTR_FLOAT, value: a.eps },
    str(be, 'data_format', 'NHWC'),
    { name: 'is_training', type: be.binding.TF_ATTR_BOOL, value: a.training },
  ];
}

let registered = false;
function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: 'CimConv2D',
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => convOp('fwd', inputs.x!, inputs.filter!, undefined, attrs as unknown as ConvAttrs, backend),
  });
  tf.registerGradient({
    kernelName: 'CimConv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, [x, filter], attrs) => {
      const a = attrs as unknown as ConvAttrs;
      const be = tf.backend();
      return { x: () => convOp('dx', x, filter, dy as tf.Tensor, a, be), filter: () => convOp('dw', x, filter, dy as tf.Tensor, a, be) };
    },
  });

  // inputs x [N, H, W, C], scale, offset, mean, variance ([0] in training) → y, batch mean, batch variance (unbiased), saved mean, saved variance
  tf.registerKernel({
    kernelName: 'CimBatchNorm',
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backendOf(backend);
      const { x, scale, offset, mean, variance } = inputs as Record<string, TensorInfo>;
      const a = attrs as unknown as BnAttrs;
      if (a.training && dnnlBatchNormOn(backend)) return dnnlBatchNormTrain(backend as tf.KernelBackend, x!, scale!, offset!, a.eps);
      return be.executeMultipleOutputs('FusedBatchNormV2', bnAttrs(be, attrs as unknown as BnAttrs), [x, scale, offset, mean, variance], 5);
    },
  });
  tf.registerGradient({
    kernelName: 'CimBatchNorm',
    inputsToSave: ['x', 'scale', 'mean', 'variance'],
    outputsToSave: [false, false, false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [x, scale, mean, variance, batchMean, batchVar] = saved;
      // training: the kernel's saved batch statistics; eval: the running statistics it was given
      // (in eval FusedBatchNormV2 leaves its statistics outputs unset)
      const training = (attrs as unknown as BnAttrs).training;
      const [savedMean, savedVar] = training ? [batchMean, batchVar] : [mean, variance];
      const dy = (dys as tf.Tensor[])[0];
      const be = backendOf(tf.backend());
      // one kernel gives all three gradients; computed here, not in the per-input closures, which
      // the tape runs each inside its own tidy (a shared result would be disposed after the first)
      const [dx, dScale, dOffset] =
        training && dnnlBatchNormOn(be)
          ? dnnlBatchNormGrad(tf.backend(), dy!, x!, scale!, savedMean!, savedVar!, (attrs as unknown as BnAttrs).eps)
          : be.executeMultipleOutputs(
              'FusedBatchNormGradV2',
              bnAttrs(be, attrs as unknown as BnAttrs),
              [dy, x, scale, savedMean, savedVar],
              5,
            );
      return {
        x: () => dx,
        scale: () => dScale,
        offset: () => dOffset,
        mean: () => tf.zerosLike(mean),
        variance: () => tf.zerosLike(variance),
      };
    },
  });

  tf.registerKernel({
    kernelName: 'CimRelu',
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend }) => {
      const be = backendOf(backend);
      return be.executeSingleOutput('Relu', [floatT(be)], [inputs.x!]);
    },
  });
  tf.registerGradient({
    kernelName: 'CimRelu',
    outputsToSave: [true],
    gradFunc: (dy, [y]) => {
      const be = backendOf(tf.backend());
      return { x: () => be.executeSingleOutput('ReluGrad', [floatT(be)], [dy as tf.Tensor, y]) };
    },
  });
}

function run(name: string, inputs: tf.NamedTensorMap, attrs: NamedAttrMap): tf.Tensor | tf.Tensor[] {
  register();
  return tf.engine().runKernel(name, inputs, attrs) as unknown as tf.Tensor | tf.Tensor[];
}

/** Conv2D, no bias, PyTorch's zero padding: x [N, H, W, C], filter [k, k, C, O] → [N, H', W', O]. */
export function tfConv2d(x: tf.Tensor4D, filter: tf.Tensor, stride: number, pad: number): tf.Tensor4D {
  return run('CimConv2D', { x, filter }, { stride, pad } as unknown as NamedAttrMap) as tf.Tensor4D;
}

/** max(x, 0) with ReluGrad as its gradient. */
export function tfRelu<T extends tf.Tensor>(x: T): T {
  return run('CimRelu', { x }, {}) as T;
}

/**
 * Training BatchNorm on x [M, C] (channels last, flattened): y, the batch mean and the unbiased
 * batch variance (for the running statistics; no gradient flows through them).
 */
export function tfBatchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  const [m, c] = x.shape;
  return tf.tidy(() => {
    const empty = tf.zeros([0]);
    const [y, mean, variance] = run(
      'CimBatchNorm',
      { x: tf.reshape(x, [1, m, 1, c]), scale: gamma, offset: beta, mean: empty, variance: empty },
      { eps, training: true } as unknown as NamedAttrMap,
    ) as tf.Tensor[];
    return { y: tf.reshape(y, [m, c]), mean, variance };
  });
}

/** Eval BatchNorm on x [M, C] with the running statistics (differentiable in x, γ and β: PGD needs dx). */
export function tfBatchNormEval(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  eps: number,
): tf.Tensor {
  const [m, c] = x.shape;
  const [y] = run('CimBatchNorm', { x: tf.reshape(x, [1, m, 1, c]), scale: gamma, offset: beta, mean, variance }, {
    eps,
    training: false,
  } as unknown as NamedAttrMap) as tf.Tensor[];
  return tf.reshape(y, [m, c]);
}
