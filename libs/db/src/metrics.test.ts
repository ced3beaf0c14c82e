// Proves the metrics layout (prisma/schema.prisma, model Metric): 100k points written in batches,
// then read whole, every k-th, and as bucket averages, with the right values, and a range read is
// one index range scan of metrics_series_key. How fast: `npm run bench:metrics` (docs/benchmarks.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { createDb, type Db } from './client.ts';
import { migrate } from './migrate.ts';
import { readMetricBuckets, readMetricSeries, writeMetrics, type MetricPoint } from './metrics.ts';
import { createTempDatabase, type TempDatabase } from './testing/temp-database.ts';

const POINTS = 100_000;

let tmp: TempDatabase;
let db: Db;

before(async () => {
  tmp = await createTempDatabase();
  await migrate(tmp.url);
  db = createDb(tmp.url);
});

after(async () => {
  await db?.$disconnect();
  await tmp?.drop();
});

async function timed<T>(label: string, fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await fn();
  const ms = performance.now() - t0;
  console.log(`# metrics: ${label}: ${ms.toFixed(1)} ms`);
  return [out, ms];
}

test(`a ${POINTS}-point series is written in batches and read downsampled through one index range`, async () => {
  const team = await db.team.create({ data: { name: 'bench' } });
  const runs = await Promise.all(
    [0, 1].map(() => db.run.create({ data: { teamId: team.id, kind: 'pretrain', config: {}, worldSize: 2 } })),
  );
  const [run, neighbour] = runs;
  const loss = (step: number) => 3 * Math.exp(-step / 20_000) + 0.1;
  // the series under test interleaved with a neighbour run's, as concurrent workers would write
  const points: MetricPoint[] = [];
  for (let step = 0; step < POINTS; step++) {
    points.push({ runId: run.id, name: 'loss', step, value: loss(step) });
    if (step % 10 === 0) points.push({ runId: neighbour.id, name: 'loss', rank: 0, step, value: 1 });
  }
  const [written, writeMs] = await timed(`write ${points.length} points in batches of 5000`, () => writeMetrics(db, points));
  assert.equal(written, points.length);
  console.log(`# metrics: write rate ${Math.round(points.length / (writeMs / 1000))} points/s`);
  await db.$executeRawUnsafe('ANALYZE metrics');

  const [all, allMs] = await timed('read all 100000 points', () => readMetricSeries(db, { runId: run.id, name: 'loss' }));
  assert.equal(all.length, POINTS);
  assert.equal(all[12345].step, 12345);
  assert.ok(Math.abs(all[12345].value - loss(12345)) < 1e-12);

  const [every, everyMs] = await timed('read every=100 (1000 points)', () =>
    readMetricSeries(db, { runId: run.id, name: 'loss', every: 100 }),
  );
  assert.equal(every.length, POINTS / 100);
  assert.deepEqual(
    every.slice(0, 3).map((p) => p.step),
    [0, 100, 200],
  );

  const [ranged, rangedMs] = await timed('read from=50000 to=59999 every=10', () =>
    readMetricSeries(db, { runId: run.id, name: 'loss', from: 50_000, to: 59_999, every: 10 }),
  );
  assert.equal(ranged.length, 1000);
  assert.equal(ranged[0].step, 50_000);

  const [buckets, bucketMs] = await timed('read 500 bucket averages', () =>
    readMetricBuckets(db, { runId: run.id, name: 'loss', buckets: 500 }),
  );
  assert.equal(buckets.length, 500);
  assert.equal(
    buckets.reduce((s, b) => s + b.count, 0),
    POINTS,
  );
  const first = buckets[0];
  const expected = Array.from({ length: first.count }, (_, i) => loss(i)).reduce((s, v) => s + v, 0) / first.count;
  assert.ok(Math.abs(first.mean - expected) < 1e-9, `${first.mean} vs ${expected}`);

  // a step range of one series is an index range scan; the whole series of a run that fills most
  // of this small table is (rightly) a sequential scan, but stays an index scan on a shared table
  const plan = await db.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(
    `EXPLAIN SELECT step, value FROM metrics WHERE run_id = '${run.id}' AND name = 'loss' AND rank IS NULL
     AND step >= 50000 AND step <= 59999 ORDER BY step`,
  );
  const planText = plan.map((r) => r['QUERY PLAN']).join('\n');
  console.log(`# metrics: range plan: ${planText.replace(/\s+/g, ' ')}`);
  assert.match(planText, /Index Scan (using|on) metrics_series_key/);
  assert.match(planText, /Index Cond: .*run_id.*name.*rank IS NULL.*step >= 50000/);

  void [allMs, everyMs, rangedMs, bucketMs];
});
