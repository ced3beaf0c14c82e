/**
 * AdamW with a learning-rate multiplier per parameter (layer-wise lr decay). It reuses the library's
 * AdamW update unchanged: one AdamW per distinct multiplier, stepped with lr × multiplier, which is
 * MAE's param groups (`lr_scale`) exactly. Weight decay follows each parameter's `decay` flag.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, type AdamWConfig, type AdamWParam } from '@cim-forge/cim';

export interface ScaledParam extends AdamWParam {
  lrScale: number;
}

export class LayerwiseAdamW {
  readonly groups: Array<{ lrScale: number; names: string[]; opt: AdamW }> = [];
  /** moments of every parameter, by name (views of the groups' maps) */
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  readonly scales = new Map<string, number>();

  constructor(params: ScaledParam[], config: Partial<AdamWConfig> = {}) {
    const byScale = new Map<number, ScaledParam[]>();
    for (const p of params) {
      if (!byScale.has(p.lrScale)) byScale.set(p.lrScale, []);
      byScale.get(p.lrScale)!.push(p);
      this.scales.set(p.name, p.lrScale);
    }
    for (const [lrScale, ps] of byScale) {
      const opt = new AdamW(ps, config);
      this.groups.push({ lrScale, names: ps.map((p) => p.name), opt });
      for (const p of ps) {
        this.m.set(p.name, opt.m.get(p.name)!);
        this.v.set(p.name, opt.v.get(p.name)!);
      }
    }
  }

  get step(): number {
    return this.groups[0]?.opt.step ?? 0;
  }

  set step(s: number) {
    for (const g of this.groups) g.opt.step = s;
  }

  /** One step at base learning rate `lr`; parameter p moves with lr × its scale. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    for (const g of this.groups) {
      const sub = new Map(g.names.map((n) => [n, grads.get(n)!] as [string, tf.Tensor]));
      g.opt.apply(sub, lr * g.lrScale);
    }
  }

  dispose(): void {
    for (const g of this.groups) g.opt.dispose();
    this.m.clear();
    this.v.clear();
  }
}
