/** The shared services as one named plugin: every route reads them from the instance. */
import fp from 'fastify-plugin';
import { Queue } from 'bullmq';
import { FIGURES_QUEUE, type FigureJobData } from '@cim-forge/queue';
import { AddressPolicy, systemResolver, type Resolver } from '@cim-forge/webhooks';
import type { ApiDeps } from '../api-deps.ts';
import { DEFAULT_QUOTAS, type DefaultQuotas } from '../runs/team-quota.ts';
import { DEFAULT_IMPORT_LIMITS, DEFAULT_IMPORT_SWEEP_GRACE_MS } from '../imports/import-area.ts';

/** uploaded figures of one run waiting to be drawn, when none is given (CIM_FIGURE_UPLOADS_PER_RUN) */
export const DEFAULT_FIGURE_UPLOADS_PER_RUN = 10;

export interface Services {
  db: ApiDeps['db'];
  redis: ApiDeps['redis'];
  runsQueue: ApiDeps['runsQueue'];
  queuePrefix: string;
  s3: ApiDeps['s3'];
  /** presigned URL lifetime, s */
  presignSeconds: number;
  webhookPolicy: AddressPolicy;
  webhookResolver: Resolver;
  figuresQueue: Queue<FigureJobData>;
  /** what one worker can hold, bytes */
  workerMemoryBytes: number;
  /** quotas of a team that has none of its own */
  defaultQuotas: DefaultQuotas;
  /** imports a team may hold, and their bytes together */
  importLimits: { count: number; bytes: number };
  /** how long after its URL expired an import that never arrived is swept, ms */
  importSweepGraceMs: number;
  /** uploaded figures of one run waiting to be drawn */
  figureUploadsPerRun: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** a worker's memory when none is given: one 80 GiB accelerator */
export const DEFAULT_WORKER_MEMORY_BYTES = 80 * 2 ** 30;

/** presigned download URL lifetime when none is given, s */
const DEFAULT_PRESIGN_SECONDS = 900;

export default fp<ApiDeps>(
  async (app, deps) => {
    let figuresQueue = deps.figuresQueue;
    if (!figuresQueue) {
      const own = new Queue<FigureJobData>(FIGURES_QUEUE, {
        connection: deps.runsQueue.opts.connection,
        prefix: deps.queuePrefix ?? 'bull',
      });
      app.addHook('onClose', async () => own.close());
      figuresQueue = own;
    }
    app.decorate('services', {
      db: deps.db,
      redis: deps.redis,
      runsQueue: deps.runsQueue,
      queuePrefix: deps.queuePrefix ?? 'bull',
      s3: deps.s3,
      presignSeconds: deps.presignSeconds ?? DEFAULT_PRESIGN_SECONDS,
      webhookPolicy: deps.webhookPolicy ?? new AddressPolicy(),
      webhookResolver: deps.webhookResolver ?? systemResolver,
      figuresQueue,
      workerMemoryBytes: deps.workerMemoryBytes ?? DEFAULT_WORKER_MEMORY_BYTES,
      defaultQuotas: deps.defaultQuotas ?? DEFAULT_QUOTAS,
      importLimits: deps.importLimits ?? DEFAULT_IMPORT_LIMITS,
      importSweepGraceMs: deps.importSweepGraceMs ?? DEFAULT_IMPORT_SWEEP_GRACE_MS,
      figureUploadsPerRun: deps.figureUploadsPerRun ?? DEFAULT_FIGURE_UPLOADS_PER_RUN,
    });
  },
  { name: 'services', fastify: '5.x' },
);
