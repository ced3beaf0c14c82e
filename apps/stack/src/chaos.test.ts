// The CI subset of `npm run chaos` (the full set, with Redis and PostgreSQL outages on private
// servers, is `npm run chaos`): the whole stack as processes on the shared Redis and PostgreSQL
// (a temp database, a random queue prefix), and four scenarios — an uninterrupted 2-rank run, a
// SIGTERMed worker (graceful stop, requeue without budget, exact resume), a kill -9 of a rank
// process (gang restart from the latest checkpoint) and a corrupt newest checkpoint (skipped for
// the previous one). Every run that SUCCEEDS must end with the uninterrupted run's weights
// (relative error ≤ 1e-6 per tensor).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, type Scenario } from './chaos/harness.ts';
import { baseline } from './chaos/scenarios/baseline.ts';
import { sigtermWorker } from './chaos/scenarios/sigterm-worker.ts';
import { killRank } from './chaos/scenarios/kill-rank.ts';
import { corruptCheckpoint } from './chaos/scenarios/corrupt-checkpoint.ts';

let h: Harness;

before(async () => {
  h = await Harness.start();
});

after(async () => {
  await h?.close();
});

async function check(s: Scenario): Promise<void> {
  const r = await s.run(h);
  assert.ok(r.pass, `${s.name}\n  expected: ${s.expected}\n  observed: ${r.observed}\n--- services (last 40 lines)\n${h.tail(40)}`);
}

test('baseline: an uninterrupted 2-rank run SUCCEEDS in one attempt (its weights are the reference)', { timeout: 300_000 }, () =>
  check(baseline),
);
test('SIGTERM to a worker: the gang checkpoints and stops, is requeued without budget, and resumes exactly', { timeout: 300_000 }, () =>
  check(sigtermWorker),
);
test('kill -9 of a rank: the gang restarts from the latest COMPLETE checkpoint and ends with the same weights', { timeout: 300_000 }, () =>
  check(killRank),
);
test('a corrupt newest checkpoint is skipped (recorded) and the previous COMPLETE one resumed', { timeout: 300_000 }, () =>
  check(corruptCheckpoint),
);
