/**
 * The plan and the resource estimate of a submitted run, and the refusal of one no worker can
 * hold. A fine-tune or eval runs the model its source checkpoint holds: the source run's config
 * says which (an imported file is estimated with the config's own model).
 */
import {
  deriveRunPlan, estimateEval, estimateFinetune, estimatePretrain, parseRunConfig,
  type EvalConfig, type FinetuneConfig, type PretrainConfig, type ResourceEstimate, type RunPlan,
} from '@cim-forge/config';
import { cimModelConfig, isResNetName, type CimModelConfig } from '@cim-forge/cim/config';
import type { Db } from '@cim-forge/db';
import { badRequest } from '../http-error.ts';
import type { ResolvedConfig, RunKindName } from './run-config.ts';

const GiB = 2 ** 30;
const gib = (b: number) => `${(b / GiB).toFixed(b < 10 * GiB ? 2 : 1)} GiB`;

/** the ViT (and input side) a fine-tune or eval will load from its source run, when known */
async function sourceModel(db: Db, sourceRunId: string | null): Promise<{ model: CimModelConfig; side: number } | null> {
  if (sourceRunId === null) return null;
  const src = await db.run.findUnique({ where: { id: sourceRunId }, select: { kind: true, config: true } });
  if (!src) return null;
  try {
    if (src.kind === 'pretrain') {
      const c = parseRunConfig('pretrain', src.config);
      if (isResNetName(c.model)) return null;
      const m = cimModelConfig(c.model, c.modelOverrides) as CimModelConfig;
      return { model: m, side: m.imgSize };
    }
    if (src.kind === 'finetune') {
      const c = parseRunConfig('finetune', src.config);
      const m = cimModelConfig(c.model, c.modelOverrides) as CimModelConfig;
      return { model: m, side: c.imgSize ?? m.imgSize };
    }
  } catch {
    // a source stored by an older version that no longer parses: estimate from the config alone
  }
  return null;
}

export async function planAndEstimate(
  db: Db, kind: RunKindName, config: ResolvedConfig, worldSize: number, sourceRunId: string | null, workerMemoryBytes: number,
): Promise<{ plan: RunPlan; resources: ResourceEstimate }> {
  let plan: RunPlan;
  try {
    plan = deriveRunPlan(kind, config, worldSize);
  } catch (err) {
    throw badRequest(`config: ${(err as Error).message}`);
  }
  let resources: ResourceEstimate;
  let batch: number;
  if (kind === 'pretrain') {
    resources = estimatePretrain(config as PretrainConfig);
    batch = (config as PretrainConfig).batchSize;
  } else {
    const src = await sourceModel(db, sourceRunId);
    if (kind === 'finetune') {
      const c = config as FinetuneConfig;
      resources = src ? estimateFinetune({ ...c, imgSize: c.imgSize ?? src.side }, 10, src.model) : estimateFinetune(c);
      batch = c.batchSize;
    } else {
      const c = config as EvalConfig;
      const model = src?.model ?? (cimModelConfig('cimVitMicroPatch4') as CimModelConfig);
      resources = estimateEval(c, model, src?.side ?? model.imgSize);
      batch = c.batchSize;
    }
  }
  if (resources.peakBytesPerRank > workerMemoryBytes) {
    throw badRequest(
      `the run needs an estimated ${gib(resources.peakBytesPerRank)} per rank (${resources.parameters.toLocaleString('en-US')} parameters, ` +
        `${gib(resources.activationBytes)} of activations at batchSize ${batch}), more than a worker's ${gib(workerMemoryBytes)} ` +
        '(CIM_WORKER_MEMORY_MB): lower batchSize (accumIter keeps the effective batch), the model or the image size',
    );
  }
  return { plan, resources };
}
