/**
 * oneDNN's convolutions (libs/cim/native/cim_dnnl.c over Debian's libdnnl, the library PyTorch
 * runs on CPU) for the tensorflow backend's CimConv2D kernel (tf-kernels.ts). Optional: `npm ci`
 * builds the addon (scripts/native-dnnl.mjs) when libdnnl-dev is installed. It is used only after
 * `setDnnlConv(true)` (`bench:train --conv dnnl`); otherwise, or without the addon, CimConv2D runs
 * libtensorflow 1.15's own Conv2D kernels as before.
 *
 * Zero-copy when the tfjs-node binding has CIM Forge's bridge (scripts/native-backend.mjs builds it
 * in: cimTensorAddress, cimAllocTensor): the addon reads the inputs' libtensorflow buffers and
 * writes a new libtensorflow tensor in place. Without it (an official tfjs-node build, or
 * setDnnlZeroCopy(false)) each call copies its inputs out (`readSync`) and its output back in
 * (`tf.tensor`); docs/benchmarks.md ("oneDNN convolutions") measures both.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { nativeThreads } from '../backend/backend.ts';

/** A tensor's floats: a Float32Array, or the BigInt address of a libtensorflow buffer (the zero-copy bridge). */
type Buf = Float32Array | bigint;

export interface DnnlAddon {
  forward(x: Buf, xShape: number[], w: Buf, wShape: number[], stride: number, pad: number, y: Buf): void;
  backwardData(dy: Buf, dyShape: number[], w: Buf, wShape: number[], stride: number, pad: number, dxShape: number[], dx: Buf): void;
  backwardWeights(x: Buf, xShape: number[], dy: Buf, dyShape: number[], k: number, stride: number, pad: number, dw: Buf): void;
  setThreads(n: number): void;
  version(): string;
  bnForward(
    x: Buf,
    mc: number[],
    scale: Buf,
    shift: Buf,
    eps: number,
    y: Buf,
    mean: Buf,
    variance: Buf,
    meanCopy: Buf,
    varianceUnbiased: Buf,
  ): void;
  bnBackward(dy: Buf, x: Buf, mc: number[], scale: Buf, mean: Buf, variance: Buf, eps: number, dx: Buf, dScale: Buf, dShift: Buf): void;
  /** true when the tensors may be BigInt addresses (absent in a build older than the zero-copy bridge) */
  takesAddresses?: boolean;
}

let addon: DnnlAddon | null | undefined;
/** oneDNN's OpenMP threads as last set (0: its default, all cores) */
let threads = 0;
let loadError = '';
// 'auto' (default): on when the addon loads and the binding has the zero-copy bridge; with copies
// oneDNN loses the step to libtensorflow's kernels (docs/benchmarks.md, "oneDNN convolutions")
let enabled: boolean | 'auto' = 'auto';

function load(): DnnlAddon | null {
  if (addon !== undefined) return addon;
  // oneDNN's OpenMP threads sleep between kernels instead of spinning for ~ms (libgomp's default):
  // spinning took the cores from libtensorflow's pool, which runs every op between two
  // convolutions (1.3× the step on 2 cores; docs/benchmarks.md, "One thread pool"). libgomp reads
  // it once, when the addon loads it; a value in the environment wins, as with TF_NUM_INTRAOP_THREADS.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    addon = createRequire(import.meta.url)('../../native/build/Release/cim_dnnl.node') as DnnlAddon;
    // as many OpenMP threads as libtensorflow's pool has: a rank of `--ranks N` (cores/N threads)
    // must not run oneDNN on every core while the other ranks do the same
    const n = nativeThreads();
    if (n !== undefined && Number.isInteger(n) && n > 0 && threads === 0) {
      addon.setThreads(n);
      threads = n;
    }
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

/**
 * oneDNN for CimConv2D: true (when the addon is built, even without the bridge), false (libtensorflow's
 * kernels: `bench:train --conv tf`), or 'auto' (the default: on when zero-copy is possible).
 */
export function setDnnlConv(on: boolean | 'auto'): void {
  enabled = on;
}

/**
 * oneDNN's OpenMP threads (default: all cores). One thread has no OpenMP barriers to wait at, which
 * matters on a loaded machine; libtensorflow keeps its own pool for every other op.
 */
/** oneDNN's OpenMP threads as set (by setDnnlThreads, or at load to libtensorflow's thread count); 0: its default, all cores */
export function dnnlThreads(): number {
  load();
  return threads;
}

export function setDnnlThreads(n: number): void {
  if (n === threads) return;
  load()?.setThreads(n);
  threads = n;
}

/** True when CimConv2D runs on oneDNN (on `backend`, by default the current one). */
export function dnnlConvOn(backend: unknown = tf.backend()): boolean {
  if (enabled === false || load() === null) return false;
  return enabled === true || hasBridge(backend);
}

/** Where CimConv2D runs and, when not on oneDNN by default, why: one line for logs. */
export function dnnlConvStatus(backend: unknown = tf.backend()): string {
  if (dnnlConvOn(backend)) return `oneDNN ${dnnlVersion()}${dnnlZeroCopy(backend) ? ', zero-copy' : ', copying tensors'}`;
  if (enabled === false) return "libtensorflow's kernels (oneDNN turned off)";
  if (load() === null) return `libtensorflow's kernels (the cim_dnnl addon is not built: ${loadError}; node scripts/native-dnnl.mjs)`;
  if (!load()!.takesAddresses)
    return "libtensorflow's kernels (the cim_dnnl addon predates the zero-copy bridge: node scripts/native-dnnl.mjs)";
  return "libtensorflow's kernels (the tfjs-node binding lacks the zero-copy bridge: node scripts/native-backend.mjs)";
}

/** The parts of tfjs-node's NodeJSKernelBackend the zero-copy bridge uses (scripts/native-backend.mjs builds them in). */
interface BridgeBackend {
  binding: {
    TF_FLOAT: number;
    cimTensorAddress?(id: number): [bigint, number];
    cimAllocTensor?(shape: number[], dtype: number): number;
  };
  getInputTensorIds(tensors: TensorInfo[]): number[];
  createOutputTensor(metadata: { id: number; shape: number[]; dtype: number }): tf.Tensor;
}

let zeroCopy = true;
/** Read and write libtensorflow's buffers in place when the binding has the bridge (default); false: copy (tests compare). */
export function setDnnlZeroCopy(on: boolean): void {
  zeroCopy = on;
}

function hasBridge(backend: unknown): boolean {
  const b = (backend as Partial<BridgeBackend> | undefined)?.binding;
  return load()?.takesAddresses === true && typeof b?.cimTensorAddress === 'function' && typeof b.cimAllocTensor === 'function';
}

/** True when the addon reads and writes `backend`'s buffers in place: the binding has the bridge (scripts/native-backend.mjs) and zero-copy is on. */
export function dnnlZeroCopy(backend: unknown): boolean {
  return zeroCopy && hasBridge(backend);
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The address of tensor id's float32 buffer, checked against the size `shape` needs. */
function address(be: BridgeBackend, id: number, shape: readonly number[]): bigint {
  const [at, bytes] = be.binding.cimTensorAddress!(id);
  if (bytes !== 4 * size(shape))
    throw new Error(`dnnl-conv: tensor ${id} holds ${bytes} bytes, [${shape.join(', ')}] float32 needs ${4 * size(shape)}`);
  return at;
}

/**
 * Runs `kernel` on the inputs' floats into a new float32 tensor of `shape`. Zero-copy: the inputs'
 * and the output's libtensorflow buffers by address; otherwise readSync copies and tf.tensor.
 */
function runInto(backend: tf.KernelBackend, inputs: TensorInfo[], shape: number[], kernel: (ins: Buf[], out: Buf) => void): tf.Tensor {
  return runIntoMany(backend, inputs, [shape], (ins, [out]) => kernel(ins, out!))[0]!;
}

/** runInto with several float32 outputs, one per shape. */
function runIntoMany(
  backend: tf.KernelBackend,
  inputs: TensorInfo[],
  shapes: number[][],
  kernel: (ins: Buf[], outs: Buf[]) => void,
): tf.Tensor[] {
  if (dnnlZeroCopy(backend)) {
    const be = backend as unknown as BridgeBackend;
    const ins = be.getInputTensorIds(inputs).map((id, i) => address(be, id, inputs[i]!.shape));
    const ids = shapes.map((shape) => be.binding.cimAllocTensor!(shape, be.binding.TF_FLOAT));
    const outs = ids.map((id, i) => be.createOutputTensor({ id, shape: shapes[i]!, dtype: be.binding.TF_FLOAT }));
    try {
      kernel(
        ins,
        ids.map((id, i) => address(be, id, shapes[i]!)),
      );
    } catch (e) {
      tf.dispose(outs);
      throw e;
    }
    return outs;
  }
  const outs = shapes.map((shape) => new Float32Array(size(shape)));
  kernel(
    inputs.map((t) => backend.readSync(t.dataId) as Float32Array),
    outs,
  );
  return outs.map((out, i) => tf.tensor(out, shapes[i], 'float32'));
}

const outSide = (side: number, k: number, stride: number, pad: number) => Math.floor((side + 2 * pad - k) / stride) + 1;

/** y = conv(x, filter): x [N, H, W, C], filter [k, k, C, O], PyTorch's zero padding `pad`. */
export function dnnlConvForward(backend: tf.KernelBackend, x: TensorInfo, filter: TensorInfo, stride: number, pad: number): tf.Tensor {
  const [n, h, w] = x.shape as number[];
  const [k, , , o] = filter.shape as number[];
  const shape = [n!, outSide(h!, k!, stride, pad), outSide(w!, k!, stride, pad), o!];
  return runInto(backend, [x, filter], shape, ([xv, wv], y) => load()!.forward(xv!, x.shape, wv!, filter.shape, stride, pad, y));
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
  return runInto(backend, [dy, filter], xShape, ([dyv, wv], dx) =>
    load()!.backwardData(dyv!, dy.shape, wv!, filter.shape, stride, pad, xShape, dx),
  );
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
  return runInto(backend, [x, dy], filterShape, ([xv, dyv], dw) =>
    load()!.backwardWeights(xv!, x.shape, dyv!, dy.shape, filterShape[0]!, stride, pad, dw),
  );
}

let bnOn = true;
/**
 * BatchNorm's training forward and backward on oneDNN too, when the convolutions run there zero-copy
 * (on by default: 1.2–1.35× the step, docs/benchmarks.md; eval BatchNorm stays on libtensorflow).
 */
export function setDnnlBatchNorm(on: boolean): void {
  bnOn = on;
}

/** True when CimBatchNorm's training path runs on oneDNN: asked for, and the convolutions run there zero-copy. */
export function dnnlBatchNormOn(backend: unknown = tf.backend()): boolean {
  return bnOn && dnnlConvOn(backend) && dnnlZeroCopy(backend);
}

/**
 * Training BatchNorm of x [.., C] (any shape, channels last): y, the batch mean, the unbiased batch
 * variance (for the running statistics), and the saved mean and biased variance for the gradient.
 */
export function dnnlBatchNormTrain(
  backend: tf.KernelBackend,
  x: TensorInfo,
  scale: TensorInfo,
  offset: TensorInfo,
  eps: number,
): tf.Tensor[] {
  const c = x.shape[x.shape.length - 1]!;
  const m = size(x.shape) / c;
  // outputs in CimBatchNorm's order: y, batch mean, unbiased batch variance, saved mean, saved (biased) variance
  return runIntoMany(backend, [x, scale, offset], [x.shape, [c], [c], [c], [c]], ([xv, sc, sh], [y, mean, varU, savedMean, savedVar]) =>
    load()!.bnForward(xv!, [m, c], sc!, sh!, eps, y!, savedMean!, savedVar!, mean!, varU!),
  );
}

/** dx, dScale, dOffset of training BatchNorm for dy, with the forward's saved mean and biased variance. */
export function dnnlBatchNormGrad(
  backend: tf.KernelBackend,
  dy: TensorInfo,
  x: TensorInfo,
  scale: TensorInfo,
  savedMean: TensorInfo,
  savedVar: TensorInfo,
  eps: number,
): tf.Tensor[] {
  const c = x.shape[x.shape.length - 1]!;
  const m = size(x.shape) / c;
  return runIntoMany(backend, [dy, x, scale, savedMean, savedVar], [x.shape, [c], [c]], ([dyv, xv, sc, mean, v], [dx, dsc, dsh]) =>
    load()!.bnBackward(dyv!, xv!, [m, c], sc!, mean!, v!, eps, dx!, dsc!, dsh!),
  );
}
