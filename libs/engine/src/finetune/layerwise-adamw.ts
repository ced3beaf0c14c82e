/**
 * AdamW with a learning-rate multiplier per parameter (layer-wise lr decay): MAE's param groups
 * (`lr_scale`) exactly. One library AdamW holds every parameter with its `lrScale`, so a step is
 * one multi-tensor update (optim/adamw.ts) whatever the number of groups. Weight decay follows
 * each parameter's `decay` flag.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, type AdamWConfig, type AdamWParam } from '@cim-forge/cim';

export interface ScaledParam extends AdamWParam {
  lrScale: number;
}

export class LayerwiseAdamW {
  readonly opt: AdamW;
  /** moments of every parameter, by name (the AdamW's own maps) */
  readonly m: Map<string, tf.Variable>;
  readonly v: Map<string, tf.Variable>;
  readonly scales = new Map<string, number>();

  constructor(params: ScaledParam[], config: Partial<AdamWConfig> = {}) {
    for (const p of params) this.scales.set(p.name, p.lrScale);
    this.opt = new AdamW(params, config);
    this.m = this.opt.m;
    this.v = this.opt.v;
  }

  get step(): number {
    return this.opt.step;
  }

  set step(s: number) {
    this.opt.step = s;
  }

  /** One step at base learning rate `lr`; parameter p moves with lr × its scale. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.opt.apply(grads, lr);
  }

  dispose(): void {
    this.opt.dispose();
  }
}
