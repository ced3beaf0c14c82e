/**
 * AdamW with decoupled weight decay, exactly PyTorch's `torch.optim.AdamW` (non-amsgrad):
 *   p ← p·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
 *   p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)
 * Parameters whose `decay` flag is false (biases, 1-d) get wd = 0. A parameter's `lrScale`
 * (layer-wise lr decay; default 1) multiplies lr for it, as a PyTorch param group's lr would.
 *
 * The update is multi-tensor: every parameter, gradient and moment is flattened into one vector,
 * updated by one chain of ~12 element-wise ops and split back (fewer, larger kernels than ~12 per
 * parameter tensor, which per-op overhead dominates on small networks). Per-parameter factors
 * (1 − lr·wd and lr/(1 − β₁ᵗ)) are computed in float64 per tensor and broadcast along its span, so
 * every element gets exactly the arithmetic the per-tensor update gave it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { newVariable } from '../nn/tensors.ts';

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
  /** multiplies lr for this parameter (default 1) */
  lrScale?: number;
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

  /** Per-element 1 − lr·s·wd and lr·s/(1 − β₁ᵗ), for one (lr, step): one span per parameter. */
  private factors?: { lr: number; step: number; decay: tf.Tensor; stepSize: tf.Tensor };

  private factorTensors(lr: number, bc1: number): { decay: tf.Tensor; stepSize: tf.Tensor } {
    if (this.factors?.lr === lr && this.factors.step === this.step) return this.factors;
    const { weightDecay } = this.config;
    const n = this.params.reduce((a, p) => a + p.variable.size, 0);
    const decay = new Float32Array(n);
    const stepSize = new Float32Array(n);
    let o = 0;
    for (const p of this.params) {
      const lrP = lr * (p.lrScale ?? 1);
      const size = p.variable.size;
      decay.fill(p.decay && weightDecay > 0 ? 1 - lrP * weightDecay : 1, o, o + size);
      stepSize.fill(lrP / bc1, o, o + size);
      o += size;
    }
    if (this.factors) tf.dispose([this.factors.decay, this.factors.stepSize]);
    this.factors = { lr, step: this.step, decay: tf.tensor1d(decay), stepSize: tf.tensor1d(stepSize) };
    return this.factors;
  }

  /** One step with learning rate `lr` (× each parameter's lrScale) on gradients keyed by parameter name. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, eps } = this.config;
    for (const p of this.params) if (!grads.get(p.name)) throw new Error(`AdamW: no gradient for ${p.name}`);
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    const sqrtBc2 = Math.sqrt(bc2);
    const f = this.factorTensors(lr, bc1);
    tf.tidy(() => {
      const flat = (ts: tf.Tensor[]) => (ts.length === 1 ? tf.reshape(ts[0], [-1]) : tf.concat(ts.map((t) => tf.reshape(t, [-1]))));
      const g = flat(this.params.map((p) => grads.get(p.name)!));
      const m1 = tf.add(tf.mul(flat(this.params.map((p) => this.m.get(p.name)!)), beta1), tf.mul(g, 1 - beta1));
      const v1 = tf.add(tf.mul(flat(this.params.map((p) => this.v.get(p.name)!)), beta2), tf.mul(tf.square(g), 1 - beta2));
      const decayed = tf.mul(flat(this.params.map((p) => p.variable)), f.decay);
      const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), eps);
      const next = tf.sub(decayed, tf.mul(tf.div(m1, denom), f.stepSize));
      const sizes = this.params.map((p) => p.variable.size);
      const back = (t: tf.Tensor, assign: (p: AdamWParam, v: tf.Tensor) => void) => {
        const parts = sizes.length === 1 ? [t] : tf.split(t, sizes);
        this.params.forEach((p, i) => assign(p, tf.reshape(parts[i], p.variable.shape)));
      };
      back(m1, (p, v) => this.m.get(p.name)!.assign(v));
      back(v1, (p, v) => this.v.get(p.name)!.assign(v));
      back(next, (p, v) => p.variable.assign(v));
    });
  }

  dispose(): void {
    if (this.factors) tf.dispose([this.factors.decay, this.factors.stepSize]);
    this.factors = undefined;
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
