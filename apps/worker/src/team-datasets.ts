/**
 * A run's image folders, moved into its team's data area before any of them is opened. The run's
 * config names each `root` relative to the area (the API checked it); this checks it again and
 * rewrites the spec for the engine:
 *   store disk: root = CIM_DATA_ROOT/<team>/<root>, area = CIM_DATA_ROOT/<team> (libs/data's
 *               confined store then never leaves the area: realpath, symlinks out skipped)
 *   store s3:   every image under s3://<bucket>/data/<team>/<root>/ fetched into a fresh directory
 *               of CIM_DATA_CACHE (bounded by CIM_DATA_MAX_BYTES), which becomes root and area
 * Fashion-MNIST and synthetic specs pass through. Every refusal is a RunError (the run's fault).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { datasetRootProblem, normalizeDatasetRoot } from '@cim-forge/config';
import { IMAGE_FOLDER_EXTENSIONS, type ImageFolderSpec, type SourceSpec } from '@cim-forge/data';
import { FetchLimitError, fetchImageFolder, S3ImageStore } from '@cim-forge/storage';
import { RunError } from './run-error.ts';

export interface TeamDataContext {
  teamId: string;
  /** CIM_DATA_ROOT; undefined: this worker reads no image folders from disk */
  dataRoot: string | undefined;
  /** CIM_DATA_CACHE: S3 folders are fetched below it */
  dataCache: string;
  /** CIM_DATA_MAX_BYTES: most bytes fetched from S3 for one run's data sets */
  dataMaxBytes: number;
  s3: { client: S3Client; bucket: string };
}

export interface LocalizedConfig<T> {
  config: T;
  /** removes what was fetched; safe to call twice */
  cleanup(): Promise<void>;
}

/** the key prefix of a team's data area in S3 (no trailing '/') */
export function s3DataPrefix(teamId: string): string {
  return `data/${teamId}`;
}

const DATASET_FIELDS = ['dataset', 'evalDataset'] as const;
/** parallel GETs while fetching a folder */
const FETCH_CONCURRENCY = 8;

export async function localizeDatasets<T extends object>(config: T, ctx: TeamDataContext): Promise<LocalizedConfig<T>> {
  const fetched: string[] = [];
  const cleanup = async () => {
    for (const dir of fetched.splice(0)) await rm(dir, { recursive: true, force: true });
  };
  const budget = { bytes: ctx.dataMaxBytes };
  const out = { ...config } as Record<string, unknown>;
  /** the same S3 folder named twice (a finetune's train and val parts) is fetched once */
  const byPrefix = new Map<string, string>();
  try {
    for (const field of DATASET_FIELDS) {
      const spec = (config as Record<string, unknown>)[field] as SourceSpec | undefined;
      if (spec?.kind !== 'image-folder') continue;
      out[field] = await localizeFolder(spec, field, ctx, budget, byPrefix, fetched);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { config: out as T, cleanup };
}

async function localizeFolder(
  spec: ImageFolderSpec,
  field: string,
  ctx: TeamDataContext,
  budget: { bytes: number },
  byPrefix: Map<string, string>,
  fetched: string[],
): Promise<ImageFolderSpec> {
  const problem = datasetRootProblem(spec.root);
  if (problem) throw new RunError(`config.${field}.root ${problem}`);
  const root = normalizeDatasetRoot(spec.root);
  const { store: _store, area: _area, ...rest } = spec;
  if (spec.store === 's3') {
    const prefix = `${s3DataPrefix(ctx.teamId)}/${root}`;
    let dir = byPrefix.get(prefix);
    if (dir === undefined) {
      await mkdir(ctx.dataCache, { recursive: true });
      dir = await mkdtemp(join(ctx.dataCache, 'run-'));
      fetched.push(dir);
      await fetchFolder(new S3ImageStore({ client: ctx.s3.client, bucket: ctx.s3.bucket, prefix }), dir, root, budget);
      byPrefix.set(prefix, dir);
    }
    return { ...rest, root: dir, area: dir };
  }
  if (ctx.dataRoot === undefined) {
    throw new RunError(
      `config.${field} is an image folder on disk, but this worker has no data root (CIM_DATA_ROOT); use store "s3" or ask an admin`,
    );
  }
  const area = join(ctx.dataRoot, ctx.teamId);
  return { ...rest, root: join(area, ...root.split('/')), area };
}

/** Copies the images under the store into dir, at most budget.bytes in all; refusals are the run's errors. */
async function fetchFolder(store: S3ImageStore, dir: string, root: string, budget: { bytes: number }): Promise<void> {
  try {
    await fetchImageFolder(store, dir, { extensions: IMAGE_FOLDER_EXTENSIONS, budget, concurrency: FETCH_CONCURRENCY });
  } catch (err) {
    const message = (err as Error).message;
    if (/does not exist/.test(message)) throw new RunError(`image folder s3:${root} has no objects in your data area`);
    if (err instanceof FetchLimitError)
      throw new RunError(`image folder s3:${root} is larger than this worker fetches for one run (CIM_DATA_MAX_BYTES)`);
    if (/unusable name/.test(message)) throw new RunError(message.replace(store.location, `s3:${root}`));
    throw err;
  }
}
