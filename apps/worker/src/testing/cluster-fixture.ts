/**
 * The service fixture with a started controller and N rank workers that run the stand-in rank
 * process (fake-rank-runner.ts) — what the controller-level tests share. `close()` stops the
 * workers, then the controller, then the fixture.
 */
import { fileURLToPath } from 'node:url';
import { Controller, type ControllerOptions } from '../controller.ts';
import { RankWorker } from '../rank-worker.ts';
import { startServiceFixture, type ServiceFixture } from './service-fixture.ts';

export const fakeRunner = fileURLToPath(new URL('./fake-rank-runner.ts', import.meta.url));

export interface ClusterFixture {
  fx: ServiceFixture;
  controller: Controller;
  workers: RankWorker[];
  close(): Promise<void>;
}

export async function startClusterFixture(o: {
  /** service settings over the fixture's (e.g. heartbeat timings) */
  env?: Record<string, string>;
  workers: number;
  /** controller options over { env, db, redis, ranksQueue } */
  controller?: Partial<ControllerOptions>;
}): Promise<ClusterFixture> {
  const fx = await startServiceFixture(o.env);
  const controller = new Controller({ env: fx.env, db: fx.db, redis: fx.redis, ranksQueue: fx.ranks, ...o.controller });
  await controller.start();
  const workers: RankWorker[] = [];
  for (let i = 0; i < o.workers; i++) {
    const w = new RankWorker({ env: { ...fx.env, workerId: `w${i}` }, db: fx.db, runnerPath: fakeRunner });
    await w.start();
    workers.push(w);
  }
  return {
    fx,
    controller,
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close(1000)));
      await controller.close();
      await fx.close();
    },
  };
}
