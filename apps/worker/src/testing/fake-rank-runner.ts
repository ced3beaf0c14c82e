/**
 * A stand-in for rank-runner.ts in tests of the worker and the controller: it speaks the same
 * protocol (argv JSON, IPC messages, exit codes) and really joins the gang over the Redis
 * collective, but instead of training it does what the run's `config.fake` says:
 *   { busyMs: block the CPU this long (a synchronous loop), sleepMs: then wait this long,
 *     exit: { "<attempt>": "user" | "infra" | … } the exit category per attempt (default ok),
 *     failRank: only this rank fails (default every rank),
 *     trial: { totalSteps, metric }: a sweep's trial (sweep-driver.test.ts): rank 0 "trains" from
 *       its resume step (the last step it recorded, after "run.resumed") to config.stopAtStep (or
 *       totalSteps), recording `metric` = its score(baseLr, step) at every step it passes }
 */
import { RedisCollective } from '@cim-forge/collective';
import { createDb } from '@cim-forge/db';
import { EXIT, type ExitCategory, type RankMessage, type RankRunnerArgs } from '../rank-protocol.ts';
import { readServiceEnv } from '../service-env.ts';
import { fakeTrialScore } from './fake-trial.ts';

interface FakeBehaviour {
  busyMs?: number;
  sleepMs?: number;
  exit?: Record<string, ExitCategory>;
  failRank?: number;
  trial?: { totalSteps: number; metric: string };
}


const send = (m: RankMessage) => process.send?.(m);
const args = JSON.parse(process.argv[2]) as RankRunnerArgs;
const env = readServiceEnv({ S3_BUCKET: 'unused', ...process.env }, 'worker');
const db = createDb(env.databaseUrl, { maxConnections: 1 });
const run = await db.run.findUniqueOrThrow({ where: { id: args.runId } });
const fake = ((run.config as Record<string, unknown>).fake ?? {}) as FakeBehaviour;
if (fake.trial && args.rank === 0) await fakeTrial(fake.trial, run.config as Record<string, unknown>);
await db.$disconnect();

async function fakeTrial(t: { totalSteps: number; metric: string }, config: Record<string, unknown>): Promise<void> {
  const last = await db.metric.findFirst({ where: { runId: args.runId, name: t.metric, rank: null }, orderBy: { step: 'desc' } });
  const from = last?.step ?? 0;
  if (from > 0) {
    await db.runEvent.create({
      data: {
        runId: args.runId,
        type: 'run.resumed',
        message: `attempt ${args.attempt} restarted from checkpoint fake-${from} at step ${from} of ${t.totalSteps}`,
        data: { checkpoint: `fake-${from}`, step: from, attempt: args.attempt },
      },
    });
  }
  const to = typeof config.stopAtStep === 'number' ? config.stopAtStep : t.totalSteps;
  const lr = Number(config.baseLr);
  for (let step = from + 1; step <= to; step++) {
    await db.metric.create({ data: { runId: args.runId, name: t.metric, rank: null, step, value: fakeTrialScore(lr, step) } });
  }
}
let code: number = EXIT.ok;
try {
  const collective =
    args.worldSize > 1
      ? await RedisCollective.join({
          redisUrl: env.redisUrl,
          keyPrefix: `${env.queuePrefix}:collective`,
          runId: `${args.runId}:${args.attempt}`,
          rank: args.rank,
          worldSize: args.worldSize,
          rendezvousTimeoutMs: env.rendezvousTimeoutMs,
          timeoutMs: env.collectiveTimeoutMs,
        })
      : undefined;
  send({ type: 'joined' });
  const t0 = Date.now();
  while (Date.now() - t0 < (fake.busyMs ?? 0)) {
    // a CPU-bound step: this process's event loop is blocked throughout
  }
  await new Promise((r) => setTimeout(r, fake.sleepMs ?? 0));
  await collective?.barrier();
  await collective?.close();
  const category = fake.exit?.[String(args.attempt)] ?? 'ok';
  if (category !== 'ok' && (fake.failRank === undefined || fake.failRank === args.rank)) {
    send({ type: 'failed', category, message: `fake ${category} failure on attempt ${args.attempt}` });
    code = EXIT[category];
  }
} catch (e) {
  const err = e as Error;
  const category: ExitCategory = err.name === 'CollectiveTimeoutError' && /rendezvous/.test(err.message) ? 'rendezvous' : 'infra';
  send({ type: 'failed', category, message: err.message });
  code = EXIT[category];
}
process.exit(code);
