/**
 * `npm run bench:metrics`: how fast the metrics table takes a worker's batched writes and serves
 * the API's series reads, on a throwaway database of the local PostgreSQL (or
 * CIM_TEST_DATABASE_URL's server). One JSON line per measurement, medians of --repeats reads.
 *
 *   npm run bench:metrics -- [--points 100000] [--repeats 5]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import { createDb, migrate, readMetricBuckets, readMetricSeries, writeMetrics, type MetricPoint } from '@cim-forge/db';
import { createTempDatabase } from '@cim-forge/db/testing';

const { values } = parseArgs({ options: { points: { type: 'string', default: '100000' }, repeats: { type: 'string', default: '5' } } });
const points = Number(values.points);
const repeats = Number(values.repeats);
const tmp = await createTempDatabase();
try {
  await migrate(tmp.url);
  const db = createDb(tmp.url);
  const team = await db.team.create({ data: { name: 'bench' } });
  const run = await db.run.create({ data: { teamId: team.id, kind: 'pretrain', config: {}, worldSize: 2 } });
  const other = await db.run.create({ data: { teamId: team.id, kind: 'pretrain', config: {}, worldSize: 2 } });
  const batch: MetricPoint[] = [];
  for (let step = 0; step < points; step++) {
    batch.push({ runId: run.id, name: 'loss', step, value: Math.exp(-step / 20_000) });
    // a concurrent run's points interleaved, as two workers would write them
    if (step % 10 === 0) batch.push({ runId: other.id, name: 'loss', rank: 0, step, value: 1 });
  }
  const print = (o: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'metrics', cpus: cpus().length, ...o }));
  let t0 = performance.now();
  await writeMetrics(db, batch);
  const writeS = (performance.now() - t0) / 1000;
  print({ op: 'write', points: batch.length, batch: 5000, seconds: +writeS.toFixed(3), pointsPerSec: Math.round(batch.length / writeS) });
  await db.$executeRawUnsafe('ANALYZE metrics');
  const reads: [string, () => Promise<unknown[]>][] = [
    [`all ${points}`, () => readMetricSeries(db, { runId: run.id, name: 'loss' })],
    ['every=100', () => readMetricSeries(db, { runId: run.id, name: 'loss', every: 100 })],
    [
      'every=20 (the API default for 100k: at most 5000 points)',
      () => readMetricSeries(db, { runId: run.id, name: 'loss', every: Math.ceil(points / 5000) }),
    ],
    [
      'range 10k steps, every=10',
      () => readMetricSeries(db, { runId: run.id, name: 'loss', from: points / 2, to: points / 2 + 9999, every: 10 }),
    ],
    ['500 bucket averages', () => readMetricBuckets(db, { runId: run.id, name: 'loss', buckets: 500 })],
  ];
  for (const [op, fn] of reads) {
    const ms: number[] = [];
    let n = 0;
    for (let i = 0; i < repeats; i++) {
      t0 = performance.now();
      n = (await fn()).length;
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    print({ op: `read ${op}`, rows: n, medianMs: +ms[Math.floor(ms.length / 2)].toFixed(1), minMs: +ms[0].toFixed(1) });
  }
  await db.$disconnect();
} finally {
  await tmp.drop();
}
