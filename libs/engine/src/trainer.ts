/**
 * One optimizer step of CIM pre-training: forward/backward over `accumIter` micro-batches
 * (gradients averaged), all-reduce across ranks, optional clipping, AdamW at the scheduled lr,
 * then the target encoder's momentum update. Any backbone (`CimModel`): ViT or ResNet.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, clipByGlobalNorm, learningRate, targetMomentum, type CimBatch, type CimModel } from '@cim-forge/cim';
import type { PretrainConfig, TrainPlan } from '@cim-forge/config';
import { batchTensors, disposeBatch } from './batch-tensors.ts';
import { soloCollective, type Collective } from './collective.ts';
import { allReduceGradients } from './gradient-all-reduce.ts';

export interface StepResult {
  step: number;
  loss: number;
  lr: number;
  momentum: number;
  gradNorm: number | null;
  computeSeconds: number;
  allReduceSeconds: number;
  /** bytes this rank sent into the all-reduce (0 with one rank) */
  allReduceBytes: number;
  /** some rank asked to stop after this step (a stop vote rides along with the gradients) */
  stop: boolean;
}

/** test-only faults (the worker's CIM_FAULT_* settings, refused in production); none normally */
export interface TrainFaults {
  /** the loss is NaN once this many optimizer steps are done (the error then says "at step N"): the non-finite-loss path, reached without a wild config */
  nonFiniteLossFromStep?: number;
}

export class CimTrainer {
  readonly optimizer: AdamW;
  /** optimizer steps taken */
  step = 0;

  constructor(
    readonly model: CimModel,
    readonly config: PretrainConfig,
    readonly plan: TrainPlan,
    readonly collective: Collective = soloCollective,
    readonly faults: TrainFaults = {},
  ) {
    const params = model.specs.filter((s) => s.trainable).map((s) => ({ name: s.name, variable: model.p(s.name), decay: s.decay }));
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

  /**
   * The step's gradient: the mean over micro-batches (as PyTorch's loss / accum_iter, then
   * backward), averaged across ranks. Also returns the mean loss and where the time went.
   * BatchNorm running statistics (each rank's forward updated its own) ride along and are
   * replaced by their mean across ranks, so every rank keeps identical weights and buffers.
   */
  async gradients(
    micro: CimBatch[],
    stopVote = false,
  ): Promise<{
    loss: number;
    grads: Map<string, tf.Tensor>;
    computeMs: number;
    allReduceSeconds: number;
    allReduceBytes: number;
    stop: boolean;
  }> {
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
      else for (const n of names) replace(sum, n, tf.add(sum.get(n)!, grads.get(n)!), grads.get(n)!);
    }
    const grads = sum!;
    if (micro.length > 1) for (const n of names) replace(grads, n, tf.div(grads.get(n)!, micro.length));
    const lossT = tf.tidy(() => tf.div(tf.addN(losses), losses.length));
    tf.dispose(losses);
    let loss = (await lossT.data())[0];
    lossT.dispose();
    const fault = this.faults.nonFiniteLossFromStep;
    if (fault !== undefined && this.step >= fault) loss = NaN;
    if (!Number.isFinite(loss)) {
      tf.dispose([...grads.values()]);
      throw new NonFiniteLossError(this.step, loss);
    }
    const computeMs = performance.now() - t0;
    if (this.collective.worldSize === 1) return { loss, grads, computeMs, allReduceSeconds: 0, allReduceBytes: 0, stop: stopVote };
    // one flat buffer: every gradient, the running statistics, then the loss and this rank's stop vote, averaged together
    const r = await allReduceGradients(this.collective, (n) => this.model.p(n), names, this.model.bufferNames(), grads, loss, stopVote);
    return { loss: r.loss, grads, computeMs, allReduceSeconds: r.allReduceSeconds, allReduceBytes: r.allReduceBytes, stop: r.stop };
  }

  async trainStep(micro: CimBatch[], stopVote = false): Promise<StepResult> {
    if (micro.length !== this.config.accumIter)
      throw new Error(`trainStep needs ${this.config.accumIter} micro-batches, got ${micro.length}`);
    const { loss, grads, computeMs, allReduceSeconds, allReduceBytes, stop } = await this.gradients(micro, stopVote);
    const t2 = performance.now();
    const gradNorm = this.config.clipGrad !== null ? await clipByGlobalNorm(grads, this.config.clipGrad) : null;
    const lr = this.lrAt(this.step);
    this.optimizer.apply(grads, lr);
    tf.dispose([...grads.values()]);
    const momentum = this.momentumAt(this.step);
    this.model.momentumUpdate(momentum);
    this.step += 1;
    const computeSeconds = (computeMs + performance.now() - t2) / 1000;
    return { step: this.step, loss, lr, momentum, gradNorm, computeSeconds, allReduceSeconds, allReduceBytes, stop };
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

/** Put `value` under `name`, disposing what was there (and `extra`). */
function replace(m: Map<string, tf.Tensor>, name: string, value: tf.Tensor, extra?: tf.Tensor): void {
  m.get(name)!.dispose();
  extra?.dispose();
  m.set(name, value);
}
