/**
 * What a pre-training checkpoint holds, and how it is turned into files and back:
 *   model.safetensors      every parameter (online, target, decoder), BatchNorm running statistics
 *                          and fixed buffers, PyTorch names and layout; the metadata says which
 *                          model it is (`architecture` cim-vit or cim-resnet, and its config: the
 *                          fixture's keys for a ViT) — so the same file is what `--init-from`,
 *                          `visualize`, `--resume` and fine-tuning (ViT only) read;
 *   optimizer.safetensors  AdamW's exp_avg/… and exp_avg_sq/… (PyTorch layout);
 *   state.json             step, data position, RNG state, the resolved config and plan, metrics.
 * It is written through a CheckpointStore: files, then a manifest of their sha256, so a reader
 * never trusts a half-written checkpoint.
 */
import { assignValues, fromTorch, parseSafetensors, serializeSafetensors, toTorch, type CimModel } from '@cim-forge/cim';
import type { CheckpointStore, CheckpointManifest } from './checkpoint-store.ts';
import type { CimTrainer } from './trainer.ts';
import type { PretrainConfig, TrainPlan } from '@cim-forge/config';

export const CHECKPOINT_FORMAT = 'cim-forge/pretrain-checkpoint@1';

export interface TrainState {
  format: typeof CHECKPOINT_FORMAT;
  step: number;
  /** where the data loader resumes */
  data: { epoch: number; cursor: number };
  /**
   * The RNG state. Every random draw of a run (model init, the epoch shuffles, each sample's crops
   * and augmentations) comes from generators seeded by hash(seed, epoch, position), so the seed
   * plus `data` above is the whole state: resuming redraws exactly what would have come next.
   */
  rng: { seed: number; scheme: string };
  config: PretrainConfig;
  plan: TrainPlan;
  metrics: Record<string, number>;
  backend: string;
  savedAt: string;
}

export async function modelToSafetensors(model: CimModel): Promise<Uint8Array> {
  const sd = await model.stateDict();
  for (const [name, t] of model.fixedBuffers()) sd.set(name, t);
  return serializeSafetensors(sd, { format: 'pt', ...model.metadata() });
}

export async function saveCheckpoint(
  store: CheckpointStore,
  trainer: CimTrainer,
  state: Omit<TrainState, 'format' | 'step' | 'savedAt'>,
): Promise<CheckpointManifest> {
  const model = trainer.model;
  const specs = new Map(model.specs.map((s) => [s.name, s]));
  const moments: Array<[string, { shape: number[]; data: Float32Array }]> = [];
  for (const [kind, m] of [
    ['exp_avg', trainer.optimizer.m],
    ['exp_avg_sq', trainer.optimizer.v],
  ] as const) {
    for (const [name, v] of m) {
      const s = specs.get(name)!;
      moments.push([`${kind}/${name}`, { shape: s.torchShape, data: toTorch(s, (await v.data()) as Float32Array) }]);
    }
  }
  const full: TrainState = { format: CHECKPOINT_FORMAT, step: trainer.step, savedAt: new Date().toISOString(), ...state };
  return store.write(`step-${String(trainer.step).padStart(8, '0')}`, trainer.step, {
    'model.safetensors': await modelToSafetensors(model),
    'optimizer.safetensors': serializeSafetensors(moments, { step: String(trainer.optimizer.step) }),
    'state.json': new TextEncoder().encode(JSON.stringify(full, null, 2)),
  });
}

/** Restore weights, optimizer moments and step from a checkpoint into a trainer; returns its state. */
export async function loadCheckpoint(store: CheckpointStore, id: string, trainer: CimTrainer): Promise<TrainState> {
  const state = JSON.parse(new TextDecoder().decode(await store.read(id, 'state.json'))) as TrainState;
  if (state.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint ${id}: unknown format ${state.format}`);
  loadModelSafetensors(trainer.model, await store.read(id, 'model.safetensors'), `${store.location}/${id}/model.safetensors`);
  const opt = parseSafetensors(await store.read(id, 'optimizer.safetensors'), `${id}/optimizer.safetensors`);
  const specs = new Map(trainer.model.specs.map((s) => [s.name, s]));
  for (const [kind, m] of [
    ['exp_avg', trainer.optimizer.m],
    ['exp_avg_sq', trainer.optimizer.v],
  ] as const) {
    for (const [name, v] of m) {
      const t = opt.tensors.get(`${kind}/${name}`);
      if (!t) throw new Error(`checkpoint ${id}: optimizer state lacks ${kind}/${name}`);
      const s = specs.get(name)!;
      assignValues(v, fromTorch(s, t.data as Float32Array));
    }
  }
  trainer.optimizer.step = Number(opt.metadata.step ?? state.step);
  trainer.step = state.step;
  return state;
}

/**
 * Load PyTorch-named weights (our checkpoint, or an official one converted to safetensors). A file
 * without target-encoder weights initialises the target from the online encoder; a file without
 * decoder weights (an encoder-only checkpoint) leaves the decoder as initialised.
 */
export function loadModelSafetensors(model: CimModel, bytes: Uint8Array, source: string): { loaded: number; decoder: boolean } {
  const file = parseSafetensors(bytes, source);
  // a file without `architecture` is a ViT (the authors' fixture, official checkpoints)
  const arch = file.metadata.architecture ?? 'cim-vit';
  if (arch !== model.architecture) throw new Error(`${source} holds a ${arch} model; this run's model is a ${model.architecture}`);
  const get = (name: string) => {
    const t = file.tensors.get(name) ?? file.tensors.get(`model.${name}`) ?? file.tensors.get(`weights/${name}`);
    return t ? { shape: t.shape, data: t.data as Float32Array } : undefined;
  };
  const hasDecoder = get('decoder_embed.weight') !== undefined;
  model.loadStateDict(get, { targetFromOnline: true, onlyRoles: hasDecoder ? undefined : ['online', 'target'] });
  return { loaded: file.tensors.size, decoder: hasDecoder };
}
