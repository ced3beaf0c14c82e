import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDb, type Db } from './client.ts';
import { migrate } from './migrate.ts';
import {
  ATTEMPT_TRANSITIONS,
  RUN_TRANSITIONS,
  IllegalTransitionError,
  attemptFailure,
  cancelPendingRanks,
  cancelRun,
  categoryOfExit,
  checkAttemptTransition,
  checkRunTransition,
  createAttempt,
  endRank,
  failRun,
  moveRun,
  parseStopMessage,
  queueRun,
  rankJoined,
  restartRun,
  runRunning,
  startRun,
  stopMessage,
  succeedRun,
  takeRank,
  toJsonValue,
} from './run-lifecycle.ts';
import { createTempDatabase, type TempDatabase } from './testing/temp-database.ts';

let tmp: TempDatabase;
let db: Db;
let teamId: string;

before(async () => {
  tmp = await createTempDatabase();
  await migrate(tmp.url);
  db = createDb(tmp.url);
  teamId = (await db.team.create({ data: { name: 'lifecycle' } })).id;
});

after(async () => {
  await db?.$disconnect();
  await tmp?.drop();
});

const queue = (worldSize = 2) =>
  queueRun(db, { teamId, kind: 'pretrain', config: toJsonValue({ epochs: 1 }), worldSize }, 'queued', {
    kind: 'pretrain',
    preset: null,
    worldSize,
    priority: 0,
    sourceCheckpointId: null,
  });
const events = async (runId: string) => (await db.runEvent.findMany({ where: { runId }, orderBy: { id: 'asc' } })).map((e) => e.type);

test('the tables: terminal states move nowhere, every active run state can end three ways', () => {
  for (const s of ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const) {
    assert.deepEqual(RUN_TRANSITIONS[s], []);
    assert.deepEqual(ATTEMPT_TRANSITIONS[s], []);
  }
  for (const s of ['QUEUED', 'STARTING', 'RUNNING', 'RESTARTING'] as const) {
    for (const end of ['SUCCEEDED', 'FAILED', 'CANCELLED'] as const) assert.doesNotThrow(() => checkRunTransition(s, end));
  }
  // 8 run states, 24 legal run moves (a sweep's trial: RUNNING → PAUSED → QUEUED | SUCCEEDED | CANCELLED);
  // 6 attempt states, 9 legal attempt moves
  assert.equal(Object.values(RUN_TRANSITIONS).flat().length, 24);
  assert.deepEqual(RUN_TRANSITIONS.PAUSED, ['QUEUED', 'SUCCEEDED', 'CANCELLED']);
  assert.throws(() => checkRunTransition('QUEUED', 'PAUSED'), IllegalTransitionError);
  assert.equal(Object.values(ATTEMPT_TRANSITIONS).flat().length, 9);
  assert.throws(
    () => checkRunTransition('SUCCEEDED', 'RUNNING'),
    (e: Error) => e instanceof IllegalTransitionError && e.message === 'illegal run transition SUCCEEDED → RUNNING: SUCCEEDED is terminal',
  );
  assert.throws(() => checkRunTransition('RUNNING', 'STARTING'), {
    name: 'IllegalTransitionError',
    message: 'illegal run transition RUNNING → STARTING: RUNNING moves only to RESTARTING, PAUSED, SUCCEEDED, FAILED, CANCELLED',
  });
  assert.throws(() => checkAttemptTransition('PENDING', 'RUNNING'), {
    message: 'illegal rank attempt transition PENDING → RUNNING: PENDING moves only to RENDEZVOUS, CANCELLED',
  });
  assert.throws(() => checkAttemptTransition('FAILED', 'RUNNING'), /FAILED is terminal/);
});

test('exit codes and stop messages', () => {
  assert.deepEqual(
    [0, 10, 11, 12, 13, 99, null].map((c) => categoryOfExit(c, null)),
    ['ok', 'user', 'rendezvous', 'infra', 'stopped', 'infra', 'infra'],
  );
  assert.equal(categoryOfExit(0, 'SIGKILL'), 'infra');
  assert.equal(stopMessage('r-1'), 'r-1');
  assert.equal(stopMessage('r-1', 3), 'r-1:3');
  assert.deepEqual(parseStopMessage('r-1:3'), { runId: 'r-1', attempt: 3 });
  assert.deepEqual(parseStopMessage('r-1'), { runId: 'r-1' });
  assert.deepEqual(parseStopMessage('a:b'), { runId: 'a:b' });
});

test('a run through two attempts in Postgres: an infra failure, a restart, success', async () => {
  const runId = await queue(2);
  const k0 = { runId, attempt: 0, rank: 0 };
  const k1 = { runId, attempt: 0, rank: 1 };
  await createAttempt(db, runId, 0, 2);
  await createAttempt(db, runId, 0, 2); // idempotent
  assert.equal(await db.rankAttempt.count({ where: { runId } }), 2);
  assert.equal(await takeRank(db, k0, 'w0'), true);
  assert.equal(await takeRank(db, k0, 'w9'), false); // a redelivered job finds it taken
  assert.equal(await startRun(db, runId), true);
  assert.equal(await startRun(db, runId), false);
  assert.equal(await takeRank(db, k1, 'w1'), true);
  assert.equal(await rankJoined(db, k0), true);
  assert.equal(await runRunning(db, runId, 0, 2), true);
  const started = (await db.run.findUniqueOrThrow({ where: { id: runId } })).startedAt;
  assert.ok(started instanceof Date);

  assert.equal(await endRank(db, k1, 'infra', 'peer lost'), true);
  assert.equal(await endRank(db, k1, 'ok', 'exit 0'), false); // ended once
  assert.equal(await endRank(db, k0, 'cancelled', 'gang stopped (attempt 0)'), true);
  const rows = await db.rankAttempt.findMany({ where: { runId }, orderBy: { rank: 'asc' } });
  assert.deepEqual(
    rows.map((r) => [r.status, r.failureCategory, r.exitReason]),
    [
      ['CANCELLED', null, 'gang stopped (attempt 0)'],
      ['FAILED', 'infra', 'peer lost'],
    ],
  );
  assert.deepEqual(attemptFailure(rows[1]), { category: 'infra', rank: 1, reason: 'peer lost' });

  assert.equal(await restartRun(db, runId), true);
  await createAttempt(db, runId, 1, 2);
  for (const rank of [0, 1]) assert.equal(await takeRank(db, { runId, attempt: 1, rank }, `w${rank}`), true);
  assert.equal(await startRun(db, runId), true); // RESTARTING → STARTING
  assert.equal(await runRunning(db, runId, 1, 2), true);
  // startedAt keeps the first start
  assert.deepEqual((await db.run.findUniqueOrThrow({ where: { id: runId } })).startedAt, started);
  for (const rank of [0, 1]) assert.equal(await endRank(db, { runId, attempt: 1, rank }, 'ok', 'exit 0'), true);
  assert.equal(await succeedRun(db, { id: runId, worldSize: 2 }, 1), true);

  // terminal: nothing moves it, and the conditional UPDATE says so without touching the row
  assert.equal(await failRun(db, runId, { category: 'infra', error: 'late' }), false);
  assert.equal(await db.$transaction((tx) => cancelRun(tx, runId, 'too late')), false);
  assert.equal(await moveRun(db, runId, 'RUNNING'), false);
  await assert.rejects(moveRun(db, runId, 'STARTING', {}, ['SUCCEEDED']), IllegalTransitionError);
  const run = await db.run.findUniqueOrThrow({ where: { id: runId } });
  assert.deepEqual([run.status, run.error, run.failureCategory], ['SUCCEEDED', null, null]);
  assert.deepEqual(await events(runId), ['run.queued', 'run.attempt', 'run.running', 'run.attempt', 'run.running', 'run.succeeded']);
});

test('the failure category is written on the run and read back; a cancel and the never-started ranks', async () => {
  const failed = await queue(1);
  await createAttempt(db, failed, 0, 1);
  await takeRank(db, { runId: failed, attempt: 0, rank: 0 }, 'w0');
  await endRank(db, { runId: failed, attempt: 0, rank: 0 }, 'user', 'loss is NaN at step 3');
  const row = await db.rankAttempt.findFirstOrThrow({ where: { runId: failed } });
  assert.equal(row.failureCategory, 'user');
  assert.equal(
    await failRun(db, failed, { category: 'user', error: 'rank 0: loss is NaN at step 3', data: { attempt: 0, rank: 0 } }),
    true,
  );
  const f = await db.run.findUniqueOrThrow({ where: { id: failed } });
  assert.deepEqual([f.status, f.failureCategory, f.error], ['FAILED', 'user', 'rank 0: loss is NaN at step 3']);
  assert.ok(f.finishedAt instanceof Date);
  const ev = await db.runEvent.findFirstOrThrow({ where: { runId: failed, type: 'run.failed' } });
  assert.deepEqual(ev.data, { attempt: 0, rank: 0 });
  // the column is an enum in Postgres
  const [t] = await db.$queryRaw<{ t: string }[]>`SELECT pg_typeof(failure_category)::text AS t FROM runs WHERE id = ${failed}::uuid`;
  assert.equal(t.t, '"FailureCategory"');

  const cancelled = await queue(2);
  await createAttempt(db, cancelled, 0, 2);
  assert.equal(await db.$transaction((tx) => cancelRun(tx, cancelled, 'cancelled by cim_abc')), true);
  await cancelPendingRanks(db, cancelled, 0);
  const c = await db.run.findUniqueOrThrow({ where: { id: cancelled }, include: { rankAttempts: true } });
  assert.deepEqual([c.status, c.error, c.failureCategory], ['CANCELLED', 'cancelled by cim_abc', null]);
  assert.deepEqual(
    c.rankAttempts.map((r) => [r.status, r.exitReason]),
    [
      ['CANCELLED', 'never started'],
      ['CANCELLED', 'never started'],
    ],
  );
  assert.equal(await takeRank(db, { runId: cancelled, attempt: 0, rank: 0 }, 'w0'), false);
  assert.deepEqual(await events(cancelled), ['run.queued', 'run.attempt', 'run.cancelled']);
});
