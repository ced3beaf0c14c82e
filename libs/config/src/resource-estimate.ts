/**
 * What a run will need, from its resolved config alone (no tfjs): learnable parameters, peak
 * memory per rank and floating-point operations per optimizer step. The API refuses a run whose
 * peak does not fit the worker class (CIM_WORKER_MEMORY_MB).
 *
 * Memory = weights (the online model and, for pre-training, its target twin) + gradients + two
 * AdamW moments + the activations one micro-batch keeps for the backward pass + a runtime
 * allowance. Activations are counted in "units" (a token's feature across a block: tokens × width
 * × (1 + mlpRatio) for a transformer block; channels × pixels for a ResNet layer) times a bytes-
 * per-unit factor measured on the wasm backend with tf.profile's peakBytes (tfjs counts every
 * tensor, views included, so this is an upper bound of the real working set); the test
 * libs/engine/src/resource-estimate.test.ts checks the estimate against measured peaks.
 */
import {
  cimModelConfig,
  resnetGrid,
  BOTTLENECK_EXPANSION,
  type CimModelConfig,
  type CimResNetConfig,
  type ResNetConfig,
} from '@cim-forge/cim/config';
import type { EvalConfig } from './eval-config.ts';
import { defaultFinetuneConfig, type FinetuneConfig } from './finetune-config.ts';
import { parseRunConfig } from './schema/run-config-schema.ts';
import type { PretrainConfig } from './pretrain-config.ts';
import { samplerConfigOf } from './pretrain-config.ts';

/** float32 activation values kept per transformer unit (fitted: micro ViT at depth 4 and 8, batch 8) */
export const VIT_FLOATS_PER_UNIT = 31;
/** float32 values kept per ResNet unit (fitted: micro ResNet, batch 8 and 32, widths ×2, layers ×2) */
export const RESNET_FLOATS_PER_UNIT = 108;
/** Node, the backend, the data loader: what a rank holds before its first tensor */
export const RUNTIME_BYTES = 512 * 2 ** 20;

export interface ResourceEstimate {
  /** learnable parameters (the online model; the target twin is a copy) */
  parameters: number;
  /** weights + gradients + optimizer moments, bytes */
  stateBytes: number;
  /** activations of one micro-batch at the peak, bytes */
  activationBytes: number;
  /** stateBytes + activationBytes: the tensors at the peak, bytes */
  peakTensorBytes: number;
  /** peakTensorBytes + the runtime allowance: what the worker must hold, bytes */
  peakBytesPerRank: number;
  /** floating-point operations of one optimizer step on one rank (forward + backward) */
  flopsPerStep: number;
}

interface Part {
  params: number;
  /** multiply-adds of one forward pass of one input */
  macs: number;
  /** activation units of one input */
  units: number;
}

function vitBlock(D: number, r: number, L: number, heads: number, Lkv = L): Part {
  const hidden = Math.round(D * r);
  return {
    params: 4 * D * D + 4 * D + 2 * D * hidden + hidden + D + 4 * D,
    macs: L * (4 * D * D + 2 * D * hidden) + 2 * L * Lkv * D + 0 * heads,
    units: L * D * (1 + r),
  };
}

/** a ViT encoder over inputs of `side` px: patch embedding, depth blocks, final norm */
function vitEncoder(m: CimModelConfig, side: number): Part {
  const L = 1 + (side / m.patchSize) ** 2;
  const b = vitBlock(m.embedDim, m.mlpRatio, L, m.numHeads);
  const patch = 3 * m.patchSize ** 2 * m.embedDim;
  return {
    params: patch + m.embedDim + m.embedDim + 2 * m.embedDim + m.depth * b.params,
    macs: (L - 1) * patch + m.depth * b.macs,
    units: m.depth * b.units,
  };
}

function conv(cin: number, cout: number, k: number, side: number): Part {
  return { params: k * k * cin * cout + 2 * cout, macs: k * k * cin * cout * side * side, units: cout * side * side };
}

/** a ResNet over inputs of `side` px */
function resnet(b: ResNetConfig, inputSide: number): Part {
  const out: Part = { params: 0, macs: 0, units: 0 };
  const add = (p: Part) => ((out.params += p.params), (out.macs += p.macs), (out.units += p.units));
  let side = inputSide;
  if (b.stem === 'imagenet') {
    side = Math.ceil(side / 2);
    add(conv(3, b.stemWidth, 7, side));
    side = Math.ceil(side / 2);
  } else add(conv(3, b.stemWidth, 3, side));
  let cin = b.stemWidth;
  b.layers.forEach((n, s) => {
    const w = b.widths[s];
    const cout = b.block === 'bottleneck' ? w * BOTTLENECK_EXPANSION : w;
    for (let i = 0; i < n; i++) {
      if (i === 0) side = Math.ceil(side / b.strides[s]);
      if (b.block === 'bottleneck') {
        add(conv(cin, w, 1, side));
        add(conv(w, w, 3, side));
        add(conv(w, cout, 1, side));
      } else {
        add(conv(cin, w, 3, side));
        add(conv(w, w, 3, side));
      }
      if (i === 0 && (cin !== cout || b.strides[s] !== 1)) add(conv(cin, cout, 1, side));
      cin = cout;
    }
  });
  return out;
}

/** the correlation decoder: embed, one cross-attention block, norm, 2-class prediction (per exemplar) */
function decoder(encoderDim: number, Dd: number, r: number, heads: number, Lc: number, Lt: number, contextSize: number): Part {
  const b = vitBlock(Dd, r, Lc, heads, Lt);
  return {
    params: encoderDim * Dd + Dd + b.params + 2 * Dd + 2 * Dd + 2,
    macs: (Lc + Lt) * encoderDim * Dd + b.macs + Lc * Dd * 2 + contextSize ** 2 * 8,
    units: b.units,
  };
}

const f32 = 4;

/** bytes of weights (+ a frozen copy), gradients and two AdamW moments */
function stateBytes(trainable: number, frozen: number): number {
  return f32 * (frozen + 4 * trainable);
}

function finish(parameters: number, state: number, activationFloats: number, flopsPerStep: number): ResourceEstimate {
  const activationBytes = f32 * activationFloats;
  const peakTensorBytes = state + activationBytes;
  return {
    parameters,
    stateBytes: state,
    activationBytes,
    peakTensorBytes,
    peakBytesPerRank: peakTensorBytes + RUNTIME_BYTES,
    flopsPerStep,
  };
}

export function estimatePretrain(c: PretrainConfig): ResourceEstimate {
  const m = cimModelConfig(c.model, c.modelOverrides);
  const s = samplerConfigOf(c);
  const B = c.batchSize;
  const T = m.numTemplates;
  let encT: Part; // online encoder on one exemplar
  let encC: Part; // target encoder on one context
  let dec: Part;
  let perUnit: number;
  if ('backbone' in m) {
    const r = m as CimResNetConfig;
    encT = resnet(r.backbone, s.exemplarSize);
    encC = resnet(r.backbone, s.contextSize);
    const out = r.backbone.widths[r.backbone.widths.length - 1] * (r.backbone.block === 'bottleneck' ? BOTTLENECK_EXPANSION : 1);
    const gc = resnetGrid(r.backbone, s.contextSize);
    const gt = resnetGrid(r.backbone, s.exemplarSize);
    dec = decoder(out, r.decoderEmbedDim, r.mlpRatio, r.decoderNumHeads, 1 + gc * gc, 1 + gt * gt, s.contextSize);
    perUnit = RESNET_FLOATS_PER_UNIT;
  } else {
    const v = m as CimModelConfig;
    encT = vitEncoder(v, s.exemplarSize);
    encC = vitEncoder(v, s.contextSize);
    dec = decoder(
      v.embedDim,
      v.decoderEmbedDim,
      v.mlpRatio,
      v.decoderNumHeads,
      1 + (s.contextSize / v.patchSize) ** 2,
      1 + (s.exemplarSize / v.patchSize) ** 2,
      s.contextSize,
    );
    perUnit = VIT_FLOATS_PER_UNIT;
  }
  const trainable = encT.params + dec.params;
  // the decoder's units are transformer units whatever the backbone
  const activations = B * (T * encT.units * perUnit + T * dec.units * VIT_FLOATS_PER_UNIT);
  // forward + backward (≈ 3× forward) for the online parts, forward only for the target encoder
  const flops = 2 * c.accumIter * B * (3 * T * (encT.macs + dec.macs) + encC.macs);
  return finish(trainable, stateBytes(trainable, encC.params), activations, flops);
}

function vitClassifier(model: CimModelConfig, side: number, classes: number): Part {
  const e = vitEncoder({ ...model, imgSize: side }, side);
  return { params: e.params + model.embedDim * classes + classes + 2 * model.embedDim, macs: e.macs, units: e.units };
}

/** 10 classes until a labelled folder says otherwise (the head is a rounding error) */
export function estimateFinetune(c: FinetuneConfig, classes = 10, model?: CimModelConfig): ResourceEstimate {
  const m = model ?? (cimModelConfig(c.model, c.modelOverrides) as CimModelConfig);
  const side = c.imgSize ?? m.imgSize;
  const p = vitClassifier(m, side, classes);
  return finish(p.params, stateBytes(p.params, 0), c.batchSize * p.units * VIT_FLOATS_PER_UNIT, 2 * 3 * c.batchSize * p.macs);
}

/** an eval run: forward passes, and forward + backward for every FGSM/PGD step (the model of the source checkpoint) */
export function estimateEval(c: EvalConfig, model: CimModelConfig, side: number, classes = 10): ResourceEstimate {
  const p = vitClassifier(model, side, classes);
  const attackSteps = c.eps > 0 ? 1 + c.pgdSteps : 0;
  return finish(p.params, f32 * p.params, c.batchSize * p.units * VIT_FLOATS_PER_UNIT, 2 * c.batchSize * p.macs * (1 + 3 * attackSteps));
}

/** the ViT (and input side) a fine-tune or eval loads from its source run's stored config, when known */
function sourceModelOf(source: { kind: string; config: unknown } | null): { model: CimModelConfig; side: number } | null {
  if (!source) return null;
  try {
    if (source.kind === 'pretrain') {
      const c = parseRunConfig('pretrain', source.config);
      const m = cimModelConfig(c.model, c.modelOverrides);
      return 'backbone' in m ? null : { model: m, side: m.imgSize };
    }
    if (source.kind === 'finetune') {
      const c = parseRunConfig('finetune', source.config);
      const m = cimModelConfig(c.model, c.modelOverrides) as CimModelConfig;
      return { model: m, side: c.imgSize ?? m.imgSize };
    }
  } catch {
    // a source stored by an older version that no longer parses: estimate from the config alone
  }
  return null;
}

/**
 * The estimate of a resolved run config of any kind, and the batch it is for. A fine-tune or eval
 * runs the model its source run trained (pass that run's kind and stored config); an imported file
 * is estimated with the config's own model (eval: the default fine-tuning model).
 */
export function estimateRunResources(
  kind: 'pretrain' | 'finetune' | 'eval',
  config: PretrainConfig | FinetuneConfig | EvalConfig,
  source: { kind: string; config: unknown } | null = null,
): { resources: ResourceEstimate; batch: number } {
  if (kind === 'pretrain') return { resources: estimatePretrain(config as PretrainConfig), batch: (config as PretrainConfig).batchSize };
  const src = sourceModelOf(source);
  if (kind === 'finetune') {
    const c = config as FinetuneConfig;
    return {
      resources: src ? estimateFinetune({ ...c, imgSize: c.imgSize ?? src.side }, 10, src.model) : estimateFinetune(c),
      batch: c.batchSize,
    };
  }
  const c = config as EvalConfig;
  const model = src?.model ?? (cimModelConfig(defaultFinetuneConfig.model) as CimModelConfig);
  return { resources: estimateEval(c, model, src?.side ?? model.imgSize), batch: c.batchSize };
}
