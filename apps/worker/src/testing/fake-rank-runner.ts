/**
 * A stand-in for rank-runner.ts in tests of the worker and the controller: it speaks the same
 * protocol (argv JSON, IPC messages, exit codes) and really joins the gang over the Redis
 * collective, but instead of training it does what the run's `config.fake` says:
 *   { busyMs: block the CPU this long (a synchronous loop), sleepMs: then wait this long,
 *     exit: { "<attempt>": "user" | "infra" | … } the exit category per attempt (default ok),
 *     failRank: only this rank fails (default every rank) }
 */
import { RedisCollective } from '@cim-forge/collective';
import { createDb } from '@cim-forge/db';
import { EXIT, type ExitCategory, type RankMessage, type RankRunnerArgs } from '../rank-protocol.ts';
import { readServiceEnv } from '../service-env.ts';

interface FakeBehaviour {
  busyMs?: number;
  sleepMs?: number;
  exit?: Record<string, ExitCategory>;
  failRank?: number;
}

const send = (m: RankMessage) => process.send?.(m);
const args = JSON.parse(process.argv[2]) as RankRunnerArgs;
const env = readServiceEnv({ S3_BUCKET: 'unused', ...process.env }, 'worker');
const db = createDb(env.databaseUrl, { maxConnections: 1 });
const run = await db.run.findUniqueOrThrow({ where: { id: args.runId } });
await db.$disconnect();
const fake = ((run.config as Record<string, unknown>).fake ?? {}) as FakeBehaviour;
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
