import { apiMetrics, controllerMetrics, createRegistry, workerMetrics, type Service } from '../index.ts';

/** One registry per process kind, every metric registered and observed once. */
export async function sampleExpositions(): Promise<Record<Service, string>> {
  const api = createRegistry({ service: 'api' });
  const am = apiMetrics(api);
  am.httpDuration.observe({ method: 'POST', route: '/v1/runs', status_code: '201' }, 0.042);
  am.runsSubmitted.inc({ kind: 'PRETRAIN' });

  const controller = createRegistry({ service: 'controller' });
  const cm = controllerMetrics(controller, {
    collectRuns: async () => [
      { status: 'RUNNING', team: 'vision', count: 2 },
      { status: 'QUEUED', team: 'nlp', count: 1 },
    ],
    collectQueues: () => [
      { queue: 'cim-runs', state: 'waiting', count: 3 },
      { queue: 'cim-ranks', state: 'active', count: 8 },
    ],
    collectSweeps: async () => ({ active: [{ team: 'vision', count: 1 }], liveTrials: [{ team: 'vision', count: 3 }] }),
  });
  cm.sweepEarlyStops.inc({ team: 'vision' });
  cm.queueWait.observe({ kind: 'PRETRAIN' }, 12.5);
  cm.restart({ run_id: 'run-1', team: 'vision', cause: 'infra' });
  cm.runsFinished.inc({ team: 'vision', kind: 'FINETUNE', status: 'SUCCEEDED' });

  const worker = createRegistry({ service: 'worker', backend: 'wasm' });
  const wm = workerMetrics(worker, { worker: 'worker-0', backend: 'wasm' });
  wm.setBusy(true);
  const r = wm.rank({ run_id: 'run-1', rank: 0, team: 'vision' });
  r.step({ seconds: 0.5, images: 64, loss: 1.25, lr: 1.5e-4, targetMomentum: 0.996 });
  r.allreduce(0.125, 4_000_000);
  r.dataWait(0.01);
  r.heartbeat(1_700_000_000);
  r.checkpoint(3.5, 120_000_000);
  r.failure('heartbeat');
  return { api: await api.metrics(), controller: await controller.metrics(), worker: await worker.metrics() };
}
