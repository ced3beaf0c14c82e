/**
 * The plan and the resource estimate of a submitted run, and the refusal of one no worker can
 * hold. A fine-tune or eval runs the model its source checkpoint holds: the source run's stored
 * config says which (libs/config estimateRunResources).
 */
import { deriveRunPlan, estimateRunResources, type ResourceEstimate, type RunPlan } from '@cim-forge/config';
import type { Db } from '@cim-forge/db';
import { badRequest } from '../http-error.ts';
import type { ResolvedConfig, RunKindName } from './run-config.ts';

const GiB = 2 ** 30;
const gib = (b: number) => `${(b / GiB).toFixed(b < 10 * GiB ? 2 : 1)} GiB`;

export async function planAndEstimate(
  db: Db, kind: RunKindName, config: ResolvedConfig, worldSize: number, sourceRunId: string | null, workerMemoryBytes: number,
): Promise<{ plan: RunPlan; resources: ResourceEstimate }> {
  let plan: RunPlan;
  try {
    plan = deriveRunPlan(kind, config, worldSize);
  } catch (err) {
    throw badRequest(`config: ${(err as Error).message}`);
  }
  const source = sourceRunId === null ? null : await db.run.findUnique({ where: { id: sourceRunId }, select: { kind: true, config: true } });
  const { resources, batch } = estimateRunResources(kind, config, source);
  if (resources.peakBytesPerRank > workerMemoryBytes) {
    throw badRequest(
      `the run needs an estimated ${gib(resources.peakBytesPerRank)} per rank (${resources.parameters.toLocaleString('en-US')} parameters, ` +
        `${gib(resources.activationBytes)} of activations at batchSize ${batch}), more than a worker's ${gib(workerMemoryBytes)} ` +
        '(CIM_WORKER_MEMORY_MB): lower batchSize (accumIter keeps the effective batch), the model or the image size',
    );
  }
  return { plan, resources };
}
