/**
 * What finetune, probe and eval share: the flags that say where the encoder comes from (`--from`
 * and its shape) and which labelled images to learn from and score on, in one table, and the one
 * resolver of `--from`. Each command takes the flags it needs from LABELLED_DATA_FLAGS.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cimModelNames } from '@cim-forge/cim';
import { LocalCheckpointStore } from '@cim-forge/engine';
import type { SourceSpec } from '@cim-forge/data';
import { num, oneOf, UsageError } from './args.ts';
import { folderOf, folderSpec } from './dataset-arg.ts';

/** parseArgs options of every labelled-data flag (pick a command's with `labelledDataFlags`) */
export const LABELLED_DATA_FLAGS = {
  from: { type: 'string' },
  encoder: { type: 'string' },
  model: { type: 'string' },
  'img-size': { type: 'string' },
  dataset: { type: 'string' },
  limit: { type: 'string' },
  'eval-images': { type: 'string' },
  'labels-fraction': { type: 'string' },
  'val-fraction': { type: 'string' },
} as const;

export type LabelledDataFlag = keyof typeof LABELLED_DATA_FLAGS;

/** the parseArgs options of `names`, from the one table */
export function labelledDataFlags<K extends LabelledDataFlag>(...names: K[]): Pick<typeof LABELLED_DATA_FLAGS, K> {
  return Object.fromEntries(names.map((n) => [n, LABELLED_DATA_FLAGS[n]])) as Pick<typeof LABELLED_DATA_FLAGS, K>;
}

/** --from: "scratch" → null; a file; a checkpoint dir with model.safetensors; or a run dir's latest checkpoint. */
export async function resolveFrom(from: string): Promise<string | null> {
  if (from === 'scratch') return null;
  const p = resolve(from);
  if (!existsSync(p)) throw new UsageError(`--from ${from}: no such file or directory (or say "scratch")`);
  if (statSync(p).isFile()) return p;
  if (existsSync(join(p, 'model.safetensors'))) return join(p, 'model.safetensors');
  const store = new LocalCheckpointStore(join(p, 'checkpoints'));
  const last = (await store.list()).at(-1);
  if (!last) throw new UsageError(`--from ${from}: neither a model.safetensors nor a run directory with checkpoints/`);
  return join(p, 'checkpoints', last.id, 'model.safetensors');
}

/** --from, which finetune and probe require (`what` says what it may name) */
export async function requiredFrom(from: string | undefined, what = 'a pre-training run directory, a model.safetensors, or "scratch"') {
  if (from === undefined) throw new UsageError(`--from is required: ${what}`);
  return resolveFrom(from);
}

/** --from, --encoder, --model, --img-size: the encoder to start from, for finetune and probe */
export async function encoderFlags(values: { from?: string; encoder?: string; model?: string; 'img-size'?: string }) {
  return {
    initFrom: await requiredFrom(values.from),
    encoder: oneOf('encoder', values.encoder, ['online', 'target'] as const),
    model: oneOf('model', values.model, cimModelNames),
    imgSize: num('img-size', values['img-size'], { int: true, min: 1 }),
  };
}

/**
 * --dataset for fine-tuning and probing: fashion-mnist (train to learn, test held out), or an
 * ImageFolder (a directory or s3://bucket/prefix): its train part to learn, its held-out part
 * (val/ folders, else a seeded stratified --val-fraction of each class) to score.
 */
export async function labelledDataset(
  d: string | undefined,
  limit?: number,
  evalImages?: number,
  valFraction?: number,
): Promise<{ dataset: SourceSpec; evalDataset: SourceSpec } | undefined> {
  if (d === undefined) return undefined;
  if (d === 'synthetic')
    throw new UsageError('--dataset synthetic has no labels: use fashion-mnist or an ImageFolder directory (DIR/<class>/<images>)');
  const folder = await folderOf('dataset', d);
  if (folder !== undefined) {
    if (limit !== undefined || evalImages !== undefined)
      throw new UsageError('--limit and --eval-images apply to fashion-mnist; for a folder use --labels-fraction and --val-fraction');
    return { dataset: folderSpec(folder, 'train', valFraction), evalDataset: folderSpec(folder, 'val', valFraction) };
  }
  if (valFraction !== undefined) throw new UsageError('--val-fraction applies to an ImageFolder (fashion-mnist has its own test split)');
  return {
    dataset: { kind: 'fashion-mnist', split: 'train', ...(limit ? { limit } : {}) },
    evalDataset: { kind: 'fashion-mnist', split: 'test', ...(evalImages ? { limit: evalImages } : {}) },
  };
}

/** --dataset, --limit, --eval-images and --val-fraction (`valFraction` false: the caller reads --val-fraction itself) */
export function labelledDatasetFlags(
  values: { dataset?: string; limit?: string; 'eval-images'?: string; 'val-fraction'?: string },
  o: { defaultDataset?: string; valFraction?: boolean } = {},
) {
  return labelledDataset(
    values.dataset ?? o.defaultDataset,
    num('limit', values.limit, { int: true, min: 1 }),
    num('eval-images', values['eval-images'], { int: true, min: 1 }),
    o.valFraction === false ? undefined : valFractionFlag(values['val-fraction']),
  );
}

export function valFractionFlag(v: string | undefined): number | undefined {
  const f = num('val-fraction', v, { min: 0 });
  if (f !== undefined && !(f > 0 && f < 1)) throw new UsageError(`--val-fraction must be in (0, 1), got ${f}`);
  return f;
}
