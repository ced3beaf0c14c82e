/**
 * Runs the ops our models use on the `cpu` backend and again on `webgpu` (the adapter from
 * CIM_WEBGPU_ADAPTER), in one process, and prints one JSON line: per op the largest error relative
 * to the cpu result's largest magnitude; the cases where webgpu computes something else; what
 * dataSync() does there; and tf.memory().numTensors after each of a few training steps of a small
 * CimViT. webgpu.test.ts runs it in a child process (our code keeps one backend per process).
 *
 *   CIM_WEBGPU_ADAPTER=software node --import tsx libs/cim/src/testing/webgpu-probe.ts
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '../rng.ts';
import { CimViT } from '../vit/cim-vit.ts';
import { AdamW } from '../optim/adamw.ts';
import { initWebGpuBackend } from '../backend/webgpu-backend.ts';
import { webGpuAdapterKind } from '../backend/webgpu-adapter.ts';

type Input = { data: Float32Array | Int32Array; shape: number[]; dtype: 'float32' | 'int32' };
const rng = new Rng(7);
const uniform = (shape: number[], scale = 1, r = rng): Input => {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = (r.random() * 2 - 1) * scale;
  return { data, shape, dtype: 'float32' };
};
const ints = (v: number[]): Input => ({ data: Int32Array.from(v), shape: [v.length], dtype: 'int32' });
const floats = (v: number[]): Input => ({ data: Float32Array.from(v), shape: [v.length], dtype: 'float32' });
const sumSquares = (f: (a: tf.Tensor) => tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.square(f(a))));

/** every op the ViT, the ResNet, the decoder, fine-tuning and the attacks use, with its gradient where we take one */
const ops: [string, Input[], (...x: tf.Tensor[]) => tf.Tensor | tf.Tensor[]][] = [
  ['matMul', [uniform([64, 96]), uniform([96, 80])], (a, b) => tf.matMul(a, b)],
  ['matMul batched, both transposed', [uniform([4, 96, 33]), uniform([4, 17, 96])], (a, b) => tf.matMul(a, b, true, true)],
  ['softmax', [uniform([8, 100], 10)], (a) => tf.softmax(a)],
  ['logSoftmax', [uniform([8, 100], 10)], (a) => tf.logSoftmax(a)],
  ['erf', [uniform([4096], 4)], (a) => tf.erf(a)],
  ['exp', [uniform([4096], 10)], (a) => tf.exp(a)],
  ['tanh', [uniform([4096], 5)], (a) => tf.tanh(a)],
  ['sigmoid', [uniform([4096], 10)], (a) => tf.sigmoid(a)],
  ['softplus', [uniform([4096], 30)], (a) => tf.softplus(a)],
  ['rsqrt', [floats(Array.from(uniform([4096]).data, (v) => Math.abs(v) + 1e-3))], (a) => tf.rsqrt(a)],
  ['moments', [uniform([16, 300])], (a) => Object.values(tf.moments(a, -1))],
  ['sum of 65536', [uniform([1 << 16])], (a) => tf.sum(a)],
  ['max', [uniform([16, 300])], (a) => tf.max(a, 1)],
  ['conv2d', [uniform([2, 16, 16, 8]), uniform([3, 3, 8, 12])], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same')],
  [
    'conv2d gradients',
    [uniform([2, 16, 16, 8]), uniform([3, 3, 8, 12])],
    (x, w) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'))))([x, w]),
  ],
  ['maxPool', [uniform([2, 16, 16, 8])], (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'valid')],
  [
    'maxPool gradient after relu (ties)',
    [uniform([2, 16, 16, 8])],
    (x) => sumSquares((a) => tf.maxPool(tf.relu(tf.sub(a, 0.6)) as tf.Tensor4D, 3, 2, 'valid'))(x),
  ],
  ['resizeBilinear alignCorners', [uniform([4, 6, 6, 2])], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [48, 48], true)],
  [
    'resizeBilinear gradient',
    [uniform([4, 6, 6, 2])],
    (x) => sumSquares((a) => tf.image.resizeBilinear(a as tf.Tensor4D, [48, 48], true))(x),
  ],
  [
    'gather gradient, repeated indices',
    [uniform([10, 6]), ints([1, 1, 3, 1, 9, 1, 1, 0])],
    (x, i) => sumSquares((a) => tf.gather(a, i))(x),
  ],
  [
    'argMax with ties',
    [floats(Array.from({ length: 64 }, (_, i) => (i % 8 === 3 || i % 8 === 6 ? 1 : 0)))],
    (x) => tf.argMax(tf.reshape(x, [8, 8]), 1),
  ],
  ['oneHot', [ints([0, 3, 2])], (i) => tf.oneHot(i as tf.Tensor1D, 5)],
  ['sign, abs, clipByValue', [uniform([1000])], (a) => [tf.sign(a), tf.abs(a), tf.clipByValue(a, -0.3, 0.2)]],
];

/** inputs holding NaN and ±Infinity: where webgpu's answer is not cpu's */
const special = floats([NaN, 1, -2, Infinity, -Infinity, 0]);
const specialOps: [string, (t: tf.Tensor) => tf.Tensor][] = [
  ['relu', (t) => tf.relu(t)],
  ['argMax', (t) => tf.argMax(t)],
  ['max', (t) => tf.max(t)],
  ['sum', (t) => tf.sum(t)],
  ['maximum(x, 0)', (t) => tf.maximum(t, 0)],
  ['logSoftmax', (t) => tf.logSoftmax(t)],
  ['erf', (t) => tf.erf(t)],
];

const make = (x: Input) => tf.tensor(x.data, x.shape, x.dtype);

async function runOps(): Promise<{ ops: Record<string, number[]>; special: Record<string, number[]> }> {
  const out: Record<string, number[]> = {};
  for (const [name, inputs, f] of ops) {
    const xs = inputs.map(make);
    const r = f(...xs);
    const rs = Array.isArray(r) ? r : [r];
    const values: number[] = [];
    for (const t of rs) values.push(...(await t.data()));
    out[name] = values;
    tf.dispose([...xs, ...rs]);
  }
  const sp: Record<string, number[]> = {};
  for (const [name, f] of specialOps) {
    const x = make(special);
    const r = f(x);
    sp[name] = Array.from(await r.data());
    tf.dispose([x, r]);
  }
  return { ops: out, special: sp };
}

/** tf.memory().numTensors after each of `steps` training steps (forward, backward, AdamW, momentum) */
async function tensorsAcrossSteps(steps: number): Promise<{ numTensors: number[]; losses: number[] }> {
  const cfg = {
    imgSize: 32,
    patchSize: 8,
    embedDim: 32,
    depth: 2,
    numHeads: 2,
    mlpRatio: 4,
    decoderEmbedDim: 32,
    decoderNumHeads: 2,
    contextSize: 32,
    templateSize: 16,
    numTemplates: 2,
  };
  const model = new CimViT(cfg, 0);
  const B = 2;
  const T = cfg.numTemplates;
  const opt = new AdamW(model.specs.filter((s) => s.trainable).map((s) => ({ name: s.name, variable: model.p(s.name), decay: s.decay })));
  const r = new Rng(11); // the same inputs on both backends
  const context = tf.tensor4d(uniform([B, 32, 32, 3], 1, r).data, [B, 32, 32, 3]);
  const templates = tf.tensor4d(uniform([T * B, 16, 16, 3], 1, r).data, [T * B, 16, 16, 3]);
  const masks = tf.tensor3d(
    Float32Array.from({ length: T * B * 32 * 32 }, (_, i) => (i % 7 < 3 ? 1 : 0)),
    [T * B, 32, 32],
  );
  const numTensors: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { loss, grads } = model.lossAndGrads(context, templates, masks);
    losses.push((await loss.data())[0]);
    opt.apply(grads, 1e-3);
    tf.dispose([loss, ...grads.values()]);
    model.momentumUpdate(0.99);
    numTensors.push(tf.memory().numTensors);
  }
  tf.dispose([context, templates, masks]);
  opt.dispose();
  model.dispose();
  return { numTensors, losses };
}

await tf.setBackend('cpu');
const cpu = await runOps();
const cpuSteps = await tensorsAcrossSteps(4);
const adapter = await initWebGpuBackend(webGpuAdapterKind(process.env.CIM_WEBGPU_ADAPTER), (m) => console.error(m));
const gpu = await runOps();
const gpuSteps = await tensorsAcrossSteps(4);

const relErr: Record<string, number> = {};
for (const [name] of ops) {
  const a = cpu.ops[name];
  const b = gpu.ops[name];
  let err = a.length === b.length ? 0 : Infinity;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    scale = Math.max(scale, Math.abs(a[i]));
  }
  relErr[name] = err / (scale || 1);
}
// JSON has no NaN or Infinity: spell them
const spell = (v: number[]) => v.map((x) => (Number.isFinite(x) ? x : String(x)));
const specialReport = Object.fromEntries(specialOps.map(([n]) => [n, { cpu: spell(cpu.special[n]), webgpu: spell(gpu.special[n]) }]));

/** the same split-K-shaped product (a weight gradient: [4096, 32]ᵀ × [4096, 48]) `runs` times: elements that ever differ from run 1 */
async function matMulRepeats(programType: number, runs: number): Promise<{ differing: number; first: number[] }> {
  const saved = tf.env().get('WEBGPU_MATMUL_PROGRAM_TYPE');
  tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', programType);
  const r = new Rng(5);
  const a = tf.tensor2d(uniform([4096, 32], 1, r).data, [4096, 32]);
  const b = tf.tensor2d(uniform([4096, 48], 1, r).data, [4096, 48]);
  const outs: Float32Array[] = [];
  for (let i = 0; i < runs; i++) {
    const c = tf.matMul(a, b, true, false);
    outs.push((await c.data()) as Float32Array);
    c.dispose();
  }
  tf.dispose([a, b]);
  tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', saved);
  const seen = new Set<number>();
  for (const o of outs) o.forEach((v, i) => v !== outs[0][i] && seen.add(i));
  return { differing: seen.size, first: Array.from(outs[0]) };
}
const ours = await matMulRepeats(tf.env().getNumber('WEBGPU_MATMUL_PROGRAM_TYPE'), 8);
const packageDefault = await matMulRepeats(-1, 8);
const matMul = {
  programType: tf.env().getNumber('WEBGPU_MATMUL_PROGRAM_TYPE'),
  oursDiffering: ours.differing,
  defaultDiffering: packageDefault.differing,
  // bits in which the package default's first result differs from ours (another summation order)
  defaultVsOurs: ours.first.filter((v, i) => v !== packageDefault.first[i]).length,
  elements: ours.first.length,
};

let dataSync: string;
const onGpu = tf.add(tf.ones([2048]), 1); // 2048 elements: above the package's CPU hand-off size, so it lives on the GPU
try {
  onGpu.dataSync();
  dataSync = 'ok';
} catch (e) {
  dataSync = (e as Error).message;
}
const readAsync = (await onGpu.data())[0];
onGpu.dispose();

console.log(JSON.stringify({ adapter, relErr, special: specialReport, matMul, dataSync, readAsync, cpuSteps, gpuSteps }));
process.exit(0);
