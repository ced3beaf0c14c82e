/**
 * Parity with the authors' PyTorch code: read a fixture in the layout of fixtures/README.md
 * (any model config, from its metadata), import its weights, and compare our forward pass, loss,
 * gradients, one AdamW step and one momentum update against the golden tensors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, type SafeFile } from './io/safetensors.ts';
import { modelConfigFromMetadata } from './vit/config.ts';
import { CimViT } from './vit/cim-vit.ts';
import { fromTorch, ourShape } from './nn/params.ts';
import { sincosPosEmbed2d } from './nn/pos-embed.ts';
import { AdamW } from './optim/adamw.ts';

export const parityTolerances = { logits: 1e-4, loss: 1e-4, grads: 1e-4, after_step: 1e-4 } as const;

export interface ParityReport {
  logits: number;
  loss: number;
  grads: number;
  after_step: number;
  /** sin-cos buffers we compute vs the fixture's (informational; logits cover their use) */
  pos_embed: number;
  ok: boolean;
  /** the tensor with the largest error in each group */
  worst: Record<string, string>;
  config: Record<string, number>;
}

/** NCHW [N, C, H, W] → NHWC. */
function nchwToNhwc(src: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let a = 0; a < n; a++)
    for (let k = 0; k < c; k++)
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[((a * h + y) * w + x) * c + k] = src[((a * c + k) * h + y) * w + x];
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Relative error: max |a − b| / max |b| (b the golden tensor). */
function relErr(ours: ArrayLike<number>, golden: ArrayLike<number>): number {
  const s = maxAbs(golden);
  return maxAbsDiff(ours, golden) / (s > 0 ? s : 1);
}

export async function runParity(buf: Uint8Array, source = 'fixture'): Promise<ParityReport> {
  const file: SafeFile = parseSafetensors(buf, source);
  const meta = file.metadata;
  const cfg = modelConfigFromMetadata(meta);
  const B = Number(meta.batch ?? 0) || undefined;
  const get = (name: string) => {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`${source}: missing tensor ${name}`);
    return t;
  };
  const f32 = (name: string) => get(name).data as Float32Array;
  const T = cfg.numTemplates;
  const C = cfg.contextSize;
  const S = cfg.templateSize;
  const ctxT = get('inputs/context');
  const batch = B ?? ctxT.shape[0];
  const lr = Number(meta.lr);
  const wd = Number(meta.weight_decay);
  const momentum = Number(meta.momentum);
  for (const [k, v] of Object.entries({ lr, weight_decay: wd, momentum })) {
    if (!Number.isFinite(v)) throw new Error(`${source}: metadata lacks a numeric "${k}"`);
  }

  const model = new CimViT(cfg, 0);
  const worst: Record<string, string> = {};
  try {
    model.loadStateDict((name) => {
      if (name === 'pos_embed' || name === 'decoder_pos_embed') return undefined; // use our own sin-cos
      const t = file.tensors.get(`weights/${name}`);
      return t ? { shape: t.shape, data: t.data as Float32Array } : undefined;
    });
    const gImg = cfg.imgSize / cfg.patchSize;
    const gCtx = C / cfg.patchSize;
    const posErr = Math.max(
      maxAbsDiff(sincosPosEmbed2d(cfg.embedDim, gImg), f32('weights/pos_embed')),
      file.tensors.has('weights/decoder_pos_embed')
        ? maxAbsDiff(sincosPosEmbed2d(cfg.decoderEmbedDim, gCtx), f32('weights/decoder_pos_embed'))
        : 0,
    );

    // Inputs, template-major.
    const tmpl = new Float32Array(T * batch * S * S * 3);
    const masks = new Float32Array(T * batch * C * C);
    for (let i = 0; i < T; i++) {
      tmpl.set(nchwToNhwc(f32(`inputs/template.${i}`), batch, 3, S, S), i * batch * S * S * 3);
      const m = get(`inputs/mask.${i}`).data;
      for (let j = 0; j < m.length; j++) masks[i * batch * C * C + j] = m[j];
    }
    const context = tf.tensor4d(nchwToNhwc(f32('inputs/context'), batch, 3, C, C), [batch, C, C, 3]);
    const templates = tf.tensor4d(tmpl, [T * batch, S, S, 3]);
    const maskT = tf.tensor3d(masks, [T * batch, C, C]);

    // Forward.
    const fwd = model.forward(context, templates, maskT);
    const logits = (await fwd.logits.data()) as Float32Array; // [TB, C, C, 2]
    let logitsErr = 0;
    for (let i = 0; i < T; i++) {
      const golden = f32(`outputs/logits.${i}`); // [B, 2, C, C]
      const ours = new Float32Array(golden.length);
      for (let b = 0; b < batch; b++)
        for (let k = 0; k < 2; k++)
          for (let p = 0; p < C * C; p++) ours[(b * 2 + k) * C * C + p] = logits[((i * batch + b) * C * C + p) * 2 + k];
      const e = maxAbsDiff(ours, golden);
      if (e >= logitsErr) [logitsErr, worst.logits] = [e, `outputs/logits.${i}`];
    }
    const lossErr = Math.abs((await fwd.loss.data())[0] - f32('outputs/loss')[0]);
    fwd.logits.dispose();
    fwd.loss.dispose();

    // Backward.
    const { loss, grads } = model.lossAndGrads(context, templates, maskT);
    loss.dispose();
    let gradErr = 0;
    const specs = new Map(model.specs.map((s) => [s.name, s]));
    for (const [name, g] of grads) {
      const golden = file.tensors.get(`grads/${name}`);
      if (!golden) throw new Error(`${source}: missing grads/${name}`);
      const spec = specs.get(name)!;
      const e = relErr((await g.data()) as Float32Array, fromTorch(spec, golden.data as Float32Array));
      if (e >= gradErr) [gradErr, worst.grads] = [e, `grads/${name}`];
      g.dispose();
    }
    for (const k of file.tensors.keys()) {
      if (k.startsWith('grads/') && !grads.has(k.slice(6))) throw new Error(`${source}: ${k} has no trainable parameter here`);
    }
    tf.dispose([context, templates, maskT]);

    // One AdamW step on the fixture's own gradients, then one momentum update.
    const trainable = model.specs.filter((s) => s.trainable);
    const opt = new AdamW(
      trainable.map((s) => ({ name: s.name, variable: model.p(s.name), decay: s.decay })),
      { weightDecay: wd, beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    );
    const fixtureGrads = new Map<string, tf.Tensor>();
    for (const s of trainable) fixtureGrads.set(s.name, tf.tensor(fromTorch(s, f32(`grads/${s.name}`)), ourShape(s)));
    opt.apply(fixtureGrads, lr);
    tf.dispose([...fixtureGrads.values()]);
    opt.dispose();
    model.momentumUpdate(momentum);
    let stepErr = 0;
    let compared = 0;
    for (const s of model.specs) {
      const golden = file.tensors.get(`after_step/${s.name}`);
      if (!golden) continue;
      compared++;
      const e = relErr((await model.p(s.name).data()) as Float32Array, fromTorch(s, golden.data as Float32Array));
      if (e >= stepErr) [stepErr, worst.after_step] = [e, `after_step/${s.name}`];
    }
    if (compared === 0) throw new Error(`${source}: no after_step/ tensors`);

    const report = {
      logits: logitsErr,
      loss: lossErr,
      grads: gradErr,
      after_step: stepErr,
      pos_embed: posErr,
      ok: false,
      worst,
      config: { ...cfg, batch },
    };
    report.ok = (Object.keys(parityTolerances) as Array<keyof typeof parityTolerances>).every((k) => report[k] <= parityTolerances[k]);
    return report;
  } finally {
    model.dispose();
  }
}
