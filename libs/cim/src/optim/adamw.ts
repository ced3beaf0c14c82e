/**
 * AdamW with decoupled weight decay, exactly PyTorch's `torch.optim.AdamW` (non-amsgrad):
 *   p ← p·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
 *   p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)
 * Parameters whose `decay` flag is false (biases, 1-d) get wd = 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { newVariable } from '../tensors.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const defaultAdamW: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 };

export interface AdamWParam {
  name: string;
  variable: tf.Variable;
  decay: boolean;
}

export class AdamW {
  readonly config: AdamWConfig;
  /** optimizer steps taken */
  step = 0;
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  private params: AdamWParam[];

  constructor(params: AdamWParam[], config: Partial<AdamWConfig> = {}) {
    this.config = { ...defaultAdamW, ...config };
    this.params = params;
    for (const p of params) {
      this.m.set(p.name, newVariable(tf.zerosLike(p.variable), false));
      this.v.set(p.name, newVariable(tf.zerosLike(p.variable), false));
    }
  }

  /** One step with learning rate `lr` on gradients keyed by parameter name. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.config;
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    tf.tidy(() => {
      for (const p of this.params) {
        const g = grads.get(p.name);
        if (!g) throw new Error(`AdamW: no gradient for ${p.name}`);
        const m = this.m.get(p.name)!;
        const v = this.v.get(p.name)!;
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        const decayed = p.decay && weightDecay > 0 ? tf.mul(p.variable, 1 - lr * weightDecay) : p.variable;
        const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), eps);
        p.variable.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), stepSize)));
      }
    });
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
