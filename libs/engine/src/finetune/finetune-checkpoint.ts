/**
 * A fine-tuning checkpoint, laid out as pre-training's (checkpoint.ts):
 *   model.safetensors      the classifier, PyTorch names and layout (patch_embed.*, cls_token,
 *                          blocks.*, norm.*, fc_norm.*, head.*, pos_embed), the encoder config in
 *                          the metadata (the same keys as pre-training's) plus num_classes;
 *   optimizer.safetensors  exp_avg/… and exp_avg_sq/… (PyTorch layout), the step in the metadata;
 *   state.json             step, resolved config and plan, metrics.
 * The data position is not stored: it is a function of the step (see finetune.ts).
 */
import {
  assignValues,
  classifierMetadata,
  fromTorch,
  parseSafetensors,
  serializeSafetensors,
  toTorch,
  type AnyCimModelConfig,
  type ImageClassifier,
} from '@cim-forge/cim';
import type { CheckpointManifest, CheckpointStore } from '../checkpoint-store.ts';
import type { FinetuneConfig, FinetunePlan } from '@cim-forge/config';
import type { LayerwiseAdamW } from './layerwise-adamw.ts';

export const FINETUNE_CHECKPOINT_FORMAT = 'cim-forge/finetune-checkpoint@1';

export interface FinetuneState {
  format: typeof FINETUNE_CHECKPOINT_FORMAT;
  step: number;
  config: FinetuneConfig;
  plan: FinetunePlan;
  encoder: AnyCimModelConfig;
  metrics: Record<string, number>;
  backend: string;
  savedAt: string;
}

export async function classifierToSafetensors(model: ImageClassifier, encoder: AnyCimModelConfig): Promise<Uint8Array> {
  return serializeSafetensors(await model.stateDict(), { format: 'pt', ...classifierMetadata(model, encoder) });
}

export async function saveFinetuneCheckpoint(
  store: CheckpointStore,
  model: ImageClassifier,
  optimizer: LayerwiseAdamW,
  state: Omit<FinetuneState, 'format' | 'savedAt'>,
): Promise<CheckpointManifest> {
  const specs = new Map(model.specs.map((s) => [s.name, s]));
  const moments: Array<[string, { shape: number[]; data: Float32Array }]> = [];
  for (const [kind, m] of [
    ['exp_avg', optimizer.m],
    ['exp_avg_sq', optimizer.v],
  ] as const) {
    for (const [name, v] of m) {
      const s = specs.get(name)!;
      moments.push([`${kind}/${name}`, { shape: s.torchShape, data: toTorch(s, (await v.data()) as Float32Array) }]);
    }
  }
  const full: FinetuneState = { format: FINETUNE_CHECKPOINT_FORMAT, savedAt: new Date().toISOString(), ...state };
  return store.write(`step-${String(state.step).padStart(8, '0')}`, state.step, {
    'model.safetensors': await classifierToSafetensors(model, state.encoder),
    'optimizer.safetensors': serializeSafetensors(moments, { step: String(optimizer.step) }),
    'state.json': new TextEncoder().encode(JSON.stringify(full, null, 2)),
  });
}

/** Restore the classifier's weights, the optimizer's moments and step; returns the saved state. */
export async function loadFinetuneCheckpoint(
  store: CheckpointStore,
  id: string,
  model: ImageClassifier,
  optimizer: LayerwiseAdamW,
): Promise<FinetuneState> {
  const state = JSON.parse(new TextDecoder().decode(await store.read(id, 'state.json'))) as FinetuneState;
  if (state.format !== FINETUNE_CHECKPOINT_FORMAT)
    throw new Error(`checkpoint ${id}: not a fine-tuning checkpoint (format ${state.format})`);
  const file = parseSafetensors(await store.read(id, 'model.safetensors'), `${id}/model.safetensors`);
  model.loadStateDict((n) => {
    const t = file.tensors.get(n);
    return t ? { shape: t.shape, data: t.data as Float32Array } : undefined;
  });
  const opt = parseSafetensors(await store.read(id, 'optimizer.safetensors'), `${id}/optimizer.safetensors`);
  const specs = new Map(model.specs.map((s) => [s.name, s]));
  for (const [kind, m] of [
    ['exp_avg', optimizer.m],
    ['exp_avg_sq', optimizer.v],
  ] as const) {
    for (const [name, v] of m) {
      const t = opt.tensors.get(`${kind}/${name}`);
      if (!t) throw new Error(`checkpoint ${id}: optimizer state lacks ${kind}/${name}`);
      assignValues(v, fromTorch(specs.get(name)!, t.data as Float32Array));
    }
  }
  optimizer.step = Number(opt.metadata.step ?? state.step);
  return state;
}
