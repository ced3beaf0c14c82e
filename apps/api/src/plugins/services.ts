/** The shared services as one named plugin: every route reads them from the instance. */
import fp from 'fastify-plugin';
import { Queue } from 'bullmq';
import { FIGURES_QUEUE, type FigureJobData } from '@cim-forge/queue';
import { AddressPolicy, systemResolver, type Resolver } from '@cim-forge/webhooks';
import type { ApiDeps } from '../api-deps.ts';
import { DEFAULT_QUOTAS, type DefaultQuotas } from '../runs/team-quota.ts';

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
    });
  },
  { name: 'services', fastify: '5.x' },
);
