/**
 * oneDNN's convolutions (libs/cim/native/cim_dnnl.c over Debian's libdnnl, the library PyTorch
 * runs on CPU) for the tensorflow backend's CimConv2D kernel (tf-kernels.ts). Optional: `npm ci`
 * builds the addon (scripts/native-dnnl.mjs) when libdnnl-dev is installed. It is used only after
 * `setDnnlConv(true)` (`bench:train --conv dnnl`); otherwise, or without the addon, CimConv2D runs
 * libtensorflow 1.15's own Conv2D kernels as before.
 *
 * The tensors cross as Float32Arrays: each call copies its inputs out of libtensorflow
 * (`readSync`) and its output back in (`tf.tensor`, written lazily on first use). Those copies are
 * counted in every figure of docs/benchmarks.md ("oneDNN convolutions").
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

export interface DnnlAddon {
  forward(x: Float32Array, xShape: number[], w: Float32Array, wShape: number[], stride: number, pad: number, y: Float32Array): void;
  backwardData(
    dy: Float32Array,
    dyShape: number[],
    w: Float32Array,
    wShape: number[],
    stride: number,
    pad: number,
    dxShape: number[],
    dx: Float32Array,
  ): void;
  backwardWeights(
    x: Float32Array,
    xShape: number[],
    dy: Float32Array,
    dyShape: number[],
    k: number,
    stride: number,
    pad: number,
    dw: Float32Array,
  ): void;
  setThreads(n: number): void;
  version(): string;
}

let addon: DnnlAddon | null | undefined;
let loadError = '';
// off by default: faster per kernel, not yet per training step (docs/benchmarks.md, "oneDNN convolutions")
let enabled = false;

function load(): DnnlAddon | null {
  if (addon !== undefined) return addon;
  try {
    addon = createRequire(import.meta.url)('../../native/build/Release/cim_dnnl.node') as DnnlAddon;
  } catch (e) {
    addon = null;
    loadError = (e as Error).message.split('\n')[0]!;
  }
  return addon;
}

/** oneDNN's version when the addon loads ("2.6.3"), else null. */
export function dnnlVersion(): string | null {
  return load()?.version() ?? null;
}

/** The addon itself (null when not built), for `scripts/bench/conv-kernels.ts`' copy-free timings. */
export function dnnlAddon(): DnnlAddon | null {
  return load();
}

/** Why the addon did not load ('' when it did or was not tried). */
export function dnnlLoadError(): string {
  load();
  return loadError;
}

/** Use oneDNN for CimConv2D when the addon is built (off by default; tests and `bench:train --conv` compare both). */
export function setDnnlConv(on: boolean): void {
  enabled = on;
}

/**
 * oneDNN's OpenMP threads (default: all cores). One thread has no OpenMP barriers to wait at, which
 * matters on a loaded machine; libtensorflow keeps its own pool for every other op.
 */
let threads = 0;
export function setDnnlThreads(n: number): void {
  if (n === threads) return;
  load()?.setThreads(n);
  threads = n;
}

/** True when CimConv2D runs on oneDNN. */
export function dnnlConvOn(): boolean {
  return enabled && load() !== null;
}

function floats(backend: tf.KernelBackend, t: TensorInfo): Float32Array {
  return backend.readSync(t.dataId) as Float32Array;
}
const outSide = (side: number, k: number, stride: number, pad: number) => Math.floor((side + 2 * pad - k) / stride) + 1;

/** y = conv(x, filter): x [N, H, W, C], filter [k, k, C, O], PyTorch's zero padding `pad`. */
export function dnnlConvForward(backend: tf.KernelBackend, x: TensorInfo, filter: TensorInfo, stride: number, pad: number): tf.Tensor {
  const [n, h, w] = x.shape as number[];
  const [k, , , o] = filter.shape as number[];
  const shape = [n!, outSide(h!, k!, stride, pad), outSide(w!, k!, stride, pad), o!];
  const y = new Float32Array(shape[0]! * shape[1]! * shape[2]! * shape[3]!);
  load()!.forward(floats(backend, x), x.shape, floats(backend, filter), filter.shape, stride, pad, y);
  return tf.tensor(y, shape, 'float32');
}

/** dx of y = conv(x, filter) for dy, with x's shape `xShape`. */
export function dnnlConvBackwardData(
  backend: tf.KernelBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  xShape: number[],
  stride: number,
  pad: number,
): tf.Tensor {
  const dx = new Float32Array(xShape.reduce((a, b) => a * b, 1));
  load()!.backwardData(floats(backend, dy), dy.shape, floats(backend, filter), filter.shape, stride, pad, xShape, dx);
  return tf.tensor(dx, xShape, 'float32');
}

/** dFilter of y = conv(x, filter) for dy, with filter's shape `filterShape` [k, k, C, O]. */
export function dnnlConvBackwardWeights(
  backend: tf.KernelBackend,
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: number[],
  stride: number,
  pad: number,
): tf.Tensor {
  const dw = new Float32Array(filterShape.reduce((a, b) => a * b, 1));
  load()!.backwardWeights(floats(backend, x), x.shape, floats(backend, dy), dy.shape, filterShape[0]!, stride, pad, dw);
  return tf.tensor(dw, filterShape, 'float32');
}
