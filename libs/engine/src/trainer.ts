/**
 * One optimizer step of CIM pre-training: forward/backward over `accumIter` micro-batches
 * (gradients averaged), all-reduce across ranks, optional clipping, AdamW at the scheduled lr,
 * then the target encoder's momentum update.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, clipByGlobalNorm, learningRate, targetMomentum, type CimBatch, type CimViT } from '@cim-forge/cim';
import type { PretrainConfig, TrainPlan } from './train-config.ts';
import { batchTensors, disposeBatch } from './batch-tensors.ts';
import { soloCollective, type Collective } from './collective.ts';

export interface StepResult {
  step: number;
  loss: number;
  lr: number;
  momentum: number;
  gradNorm: number | null;
  computeSeconds: number;
  allReduceSeconds: number;
}

export class CimTrainer {
  readonly optimizer: AdamW;
  /** optimizer steps taken */
  step = 0;

  constructor(
    readonly model: CimViT,
    readonly config: PretrainConfig,
    readonly plan: TrainPlan,
    readonly collective: Collective = soloCollective,
  ) {
    const params = model.specs
      .filter((s) => s.trainable)
      .map((s) => ({ name: s.name, variable: model.p(s.name), decay: s.decay }));
    this.optimizer = new AdamW(params, { beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay });
  }

  lrAt(step: number): number {
    return learningRate(step / this.plan.stepsPerEpoch, {
      peakLr: this.plan.peakLr,
      minLr: this.config.minLr,
      warmupEpochs: this.config.warmupEpochs,
      epochs: this.config.epochs,
    });
  }

  momentumAt(step: number): number {
    return targetMomentum(step, this.plan.totalSteps, this.config.momentumBase, this.config.momentumEnd);
  }

  async trainStep(micro: CimBatch[]): Promise<StepResult> {
    if (micro.length !== this.config.accumIter) throw new Error(`trainStep needs ${this.config.accumIter} micro-batches, got ${micro.length}`);
    const t0 = performance.now();
    const names = this.model.trainableNames();
    let sum: Map<string, tf.Tensor> | undefined;
    const losses: tf.Scalar[] = [];
    for (const b of micro) {
      const bt = batchTensors(b);
      const { loss, grads } = this.model.lossAndGrads(bt.context, bt.templates, bt.masks);
      disposeBatch(bt);
      losses.push(loss);
      if (!sum) sum = grads;
      else {
        for (const n of names) {
          const acc = tf.add(sum.get(n)!, grads.get(n)!);
          sum.get(n)!.dispose();
          grads.get(n)!.dispose();
          sum.set(n, acc);
        }
      }
    }
    let grads = sum!;
    if (micro.length > 1) grads = mapInPlace(grads, (g) => tf.div(g, micro.length));
    const lossT = tf.tidy(() => tf.div(tf.addN(losses), losses.length));
    tf.dispose(losses);
    const loss = (await lossT.data())[0];
    lossT.dispose();
    if (!Number.isFinite(loss)) {
      tf.dispose([...grads.values()]);
      throw new NonFiniteLossError(this.step, loss);
    }
    const t1 = performance.now();
    let allReduceSeconds = 0;
    let lossOut = loss;
    if (this.collective.worldSize > 1) {
      const flat = await flatten(grads, names);
      const withLoss = new Float32Array(flat.length + 1);
      withLoss.set(flat);
      withLoss[flat.length] = loss;
      const r0 = performance.now();
      const avg = await this.collective.allReduceMean(withLoss);
      allReduceSeconds = (performance.now() - r0) / 1000;
      lossOut = avg[flat.length];
      tf.dispose([...grads.values()]);
      grads = unflatten(avg.subarray(0, flat.length), names, this.model);
    }
    const t2 = performance.now();
    const gradNorm = this.config.clipGrad !== null ? clipByGlobalNorm(grads, this.config.clipGrad) : null;
    const lr = this.lrAt(this.step);
    this.optimizer.apply(grads, lr);
    tf.dispose([...grads.values()]);
    const momentum = this.momentumAt(this.step);
    this.model.momentumUpdate(momentum);
    this.step += 1;
    const computeSeconds = (t1 - t0 + performance.now() - t2) / 1000;
    return { step: this.step, loss: lossOut, lr, momentum, gradNorm, computeSeconds, allReduceSeconds };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
  ) {
    super(`non-finite loss (${loss}) at step ${step}: stopping the run (lower the lr, enable --clip-grad, or check the data)`);
    this.name = 'NonFiniteLossError';
  }
}

function mapInPlace(m: Map<string, tf.Tensor>, f: (t: tf.Tensor) => tf.Tensor): Map<string, tf.Tensor> {
  for (const [k, v] of m) {
    m.set(k, f(v));
    v.dispose();
  }
  return m;
}

async function flatten(grads: Map<string, tf.Tensor>, names: string[]): Promise<Float32Array> {
  const flat = tf.concat(names.map((n) => tf.reshape(grads.get(n)!, [-1])));
  const out = (await flat.data()) as Float32Array;
  flat.dispose();
  return out;
}

function unflatten(flat: Float32Array, names: string[], model: CimViT): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  let o = 0;
  for (const n of names) {
    const v = model.p(n);
    out.set(n, tf.tensor(flat.subarray(o, o + v.size), v.shape));
    o += v.size;
  }
  return out;
}
