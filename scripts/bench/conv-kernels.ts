/**
 * Per-kernel timings of cimResnetMicro's 11 convolution shapes (batch 128, NHWC) on the tensorflow
 * backend: libtensorflow 1.15's kernels (as CimConv2D routes them without oneDNN) beside oneDNN's
 * (libs/cim/native/cim_dnnl.c, copies in and out of the TF tensors included), and oneDNN alone on
 * Float32Arrays read beforehand (`dnnlNoCopyMs`: the copies' cost is the difference). One JSON line
 * per shape, medians in ms; PyTorch's side is `/usr/bin/python3 scripts/bench/torch_resnet_micro.py --kernels`.
 *
 *   node --import tsx scripts/bench/conv-kernels.ts [--reps 10] [--batch 128] [--dnnl-threads N]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../libs/cim/src/backend/backend.ts';
import { convOp } from '../../libs/cim/src/resnet/tf-kernels.ts';
import { dnnlAddon, dnnlVersion, setDnnlConv, setDnnlThreads } from '../../libs/cim/src/resnet/dnnl-conv.ts';

const { values } = parseArgs({ options: { reps: { type: 'string' }, batch: { type: 'string' }, 'dnnl-threads': { type: 'string' } } });
const reps = Number(values.reps ?? 10);
const B = Number(values.batch ?? 128);
await initBackend('tensorflow');
if (!dnnlVersion()) throw new Error('the cim_dnnl addon is not built (node scripts/native-dnnl.mjs)');
if (values['dnnl-threads']) setDnnlThreads(Number(values['dnnl-threads']));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
function time(f: () => tf.Tensor): number {
  const ts: number[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const t0 = performance.now();
    const y = f();
    y.dataSync(); // a no-op wait on tensorflow (synchronous), a real one on nothing else
    ts.push(performance.now() - t0);
    y.dispose();
  }
  return +median(ts.slice(2)).toFixed(2);
}
// (C, side, O, k, stride), as torch_resnet_micro.py --kernels lists them
const shapes = [
  [3, 32, 16, 3, 1],
  [16, 32, 16, 3, 1],
  [16, 32, 32, 3, 2],
  [32, 16, 32, 3, 1],
  [16, 32, 32, 1, 2],
  [32, 16, 64, 3, 2],
  [64, 8, 64, 3, 1],
  [32, 16, 64, 1, 2],
  [64, 8, 128, 3, 2],
  [128, 4, 128, 3, 1],
  [64, 8, 128, 1, 2],
];
const sums = { tf: [0, 0, 0], dnnl: [0, 0, 0], dnnlNoCopy: [0, 0, 0] };
function timeRaw(f: () => void): number {
  const ts: number[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return +median(ts.slice(2)).toFixed(2);
}
for (const [c, side, o, k, stride] of shapes) {
  const pad = Math.floor(k! / 2);
  const x = tf.randomNormal([B, side!, side!, c!]) as tf.Tensor4D;
  const w = tf.randomNormal([k!, k!, c!, o!]);
  const oside = Math.floor((side! + 2 * pad - k!) / stride!) + 1;
  const dy = tf.randomNormal([B, oside, oside, o!]);
  const a = { stride: stride!, pad };
  const row: Record<string, unknown> = { bench: 'conv', shape: [B, side, side, c], filter: [k, k, c, o], stride };
  for (const lib of ['tf', 'dnnl'] as const) {
    setDnnlConv(lib === 'dnnl');
    const t = [
      time(() => convOp('fwd', x, w, undefined, a, tf.backend())),
      time(() => convOp('dx', x, w, dy, a, tf.backend())),
      time(() => convOp('dw', x, w, dy, a, tf.backend())),
    ];
    t.forEach((v, i) => (sums[lib][i]! += v));
    Object.assign(row, { [`${lib}Ms`]: t });
  }
  const ad = dnnlAddon()!;
  const [xa, wa, dya] = [x, w, dy].map((t) => t.dataSync() as Float32Array);
  const ya = new Float32Array(dy.size);
  const dxa = new Float32Array(x.size);
  const dwa = new Float32Array(w.size);
  const raw = [
    timeRaw(() => ad.forward(xa!, x.shape, wa!, w.shape, stride!, pad, ya)),
    timeRaw(() => ad.backwardData(dya!, dy.shape, wa!, w.shape, stride!, pad, x.shape, dxa)),
    timeRaw(() => ad.backwardWeights(xa!, x.shape, dya!, dy.shape, k!, stride!, pad, dwa)),
  ];
  raw.forEach((v, i) => (sums.dnnlNoCopy[i]! += v));
  row.dnnlNoCopyMs = raw;
  console.log(JSON.stringify(row));
  tf.dispose([x, w, dy]);
}
const r = (xs: number[]) => xs.map((v) => +v.toFixed(1));
console.log(
  JSON.stringify({
    bench: 'conv',
    sum: true,
    oneDNN: dnnlVersion(),
    tfMs: r(sums.tf),
    dnnlThreads: values['dnnl-threads'] ?? 'all',
    dnnlMs: r(sums.dnnl),
    dnnlNoCopyMs: r(sums.dnnlNoCopy),
    load: (await import('node:os')).loadavg().map((v) => +v.toFixed(2)),
  }),
);
