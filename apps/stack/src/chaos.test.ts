// `npm run chaos` in `npm test`: every scenario (13), on the same private Redis and PostgreSQL
// servers `npm run chaos` starts (free ports, data under /tmp; the shared 6379/5432 are never
// touched, so the outage scenarios can stop them), the whole stack as processes (API, controller,
// 2 workers, s3rver). Baseline first (an uninterrupted 2-rank run whose weights are the
// reference), then kill -9, SIGTERM and SIGSTOP of ranks and workers, a corrupt checkpoint, a
// non-finite loss (the workers' test-only fault setting), controller and API restarts, and Redis
// and PostgreSQL outages last. Every run that SUCCEEDS must end with the uninterrupted run's
// weights (relative error ≤ 1e-6 per tensor). The suite's time is in docs/reliability.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, type Scenario } from './chaos/harness.ts';
import { allScenarios } from './chaos/run-scenarios.ts';
import { startPrivatePostgres, startPrivateRedis, type PrivateServer } from './chaos/private-services.ts';

let redis: PrivateServer | undefined;
let postgres: PrivateServer | undefined;
let h: Harness | undefined;
const started = performance.now();

before(async () => {
  redis = await startPrivateRedis();
  postgres = await startPrivatePostgres();
  const dbUrl = new URL(postgres.url);
  dbUrl.pathname = '/cim_chaos';
  h = await Harness.start({ redisUrl: redis.url, databaseUrl: dbUrl.toString() });
});

after(async () => {
  await h?.close().catch((e: Error) => console.error(`closing the stack: ${e.message}`));
  await postgres?.close().catch(() => {});
  await redis?.close().catch(() => {});
  console.log(`chaos suite: ${((performance.now() - started) / 1000).toFixed(0)} s`);
});

async function check(s: Scenario): Promise<void> {
  const r = await s.run(h!);
  assert.ok(r.pass, `${s.name}\n  expected: ${s.expected}\n  observed: ${r.observed}\n--- services (last 40 lines)\n${h!.tail(40)}`);
}

for (const s of allScenarios({ redis: () => redis!, postgres: () => postgres! })) {
  test(`${s.name}: ${s.expected}`, { timeout: 420_000 }, () => check(s));
}
