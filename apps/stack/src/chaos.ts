/**
 * `npm run chaos`: fault injection against the real service. Starts private Redis and PostgreSQL
 * servers (free ports, data under /tmp; the shared 6379/5432 are never touched), the whole stack
 * on them (API, controller, 2 workers as processes, s3rver), then runs each scenario — kill -9,
 * SIGTERM and SIGSTOP of ranks and workers, a corrupt checkpoint, a non-finite loss, controller and
 * API restarts, Redis and PostgreSQL outages — and prints a table and, last, one JSON line:
 * {"scenarios":N,"passed":P,"failed":F}. Exit code 0 only when every scenario passed.
 *
 *   npm run chaos -- [--only NAME_SUBSTRING] [--transport redis|gloo] [--verbose]
 *
 * --transport gloo: the workers' gangs move their gradients with Gloo (CIM_COLLECTIVE_TRANSPORT,
 * listening on 127.0.0.1), Redis serving only their rendezvous.
 */
import { parseArgs } from 'node:util';
import { runScenarios, allScenarios, formatTable } from './chaos/run-scenarios.ts';
import { Harness } from './chaos/harness.ts';
import { startPrivatePostgres, startPrivateRedis, type PrivateServer } from './chaos/private-services.ts';

const { values } = parseArgs({
  options: { only: { type: 'string' }, transport: { type: 'string', default: 'redis' }, verbose: { type: 'boolean', default: false } },
});
if (values.transport !== 'redis' && values.transport !== 'gloo') throw new Error(`--transport ${values.transport}: not redis or gloo`);
const transportEnv: Record<string, string> = { CIM_COLLECTIVE_TRANSPORT: values.transport, CIM_GLOO_HOST: '127.0.0.1' };
let redis: PrivateServer | undefined;
let postgres: PrivateServer | undefined;
let h: Harness | undefined;
let code = 1;
try {
  redis = await startPrivateRedis();
  postgres = await startPrivatePostgres();
  const dbUrl = new URL(postgres.url);
  dbUrl.pathname = '/cim_chaos';
  console.error(`private Redis ${redis.url}, private PostgreSQL ${postgres.url}; starting the stack…`);
  h = await Harness.start({ redisUrl: redis.url, databaseUrl: dbUrl.toString(), verbose: values.verbose, env: transportEnv });
  const scenarios = allScenarios({ redis: () => redis!, postgres: () => postgres! }).filter(
    (s) => !values.only || s.name.includes(values.only) || s.name.startsWith('baseline'),
  );
  const results = await runScenarios(h, scenarios, (r) =>
    console.error(`${r.pass ? 'PASS' : 'FAIL'} ${r.scenario} (${r.seconds?.toFixed(0)} s): ${r.observed}`),
  );
  console.log(formatTable(results));
  const passed = results.filter((r) => r.pass).length;
  console.log(JSON.stringify({ scenarios: results.length, passed, failed: results.length - passed }));
  code = passed === results.length ? 0 : 1;
} catch (e) {
  console.error(e);
  if (h) console.error(`--- last service lines\n${h.tail(60)}`);
} finally {
  await h?.close().catch((e) => console.error(`closing the stack: ${(e as Error).message}`));
  await postgres?.close().catch(() => {});
  await redis?.close().catch(() => {});
}
process.exit(code);
