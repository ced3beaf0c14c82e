import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { defaultMigrationsDir, migrate, MigrationError, readMigrations } from './migrate.ts';
import { createTempDatabase } from './testing/temp-database.ts';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

test('migrate applies every migration and records it as prisma migrate deploy does', async () => {
  const db = await createTempDatabase();
  try {
    const local = readMigrations();
    assert.ok(local.length >= 1);
    const r = await migrate(db.url);
    assert.deepEqual(
      r.applied,
      local.map((m) => m.name),
    );
    assert.deepEqual(r.skipped, []);

    const rows = await query<MigrationRow>(db.url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
    assert.deepEqual(
      rows.map((x) => x.migration_name),
      local.map((m) => m.name),
    );
    for (const row of rows) {
      const file = readFileSync(join(defaultMigrationsDir, row.migration_name, 'migration.sql'));
      assert.equal(row.checksum, createHash('sha256').update(file).digest('hex'));
      assert.equal(row.applied_steps_count, 1);
      assert.equal(row.logs, null);
      assert.equal(row.rolled_back_at, null);
      assert.ok(row.finished_at instanceof Date && row.finished_at >= row.started_at);
      assert.match(row.id, /^[0-9a-f-]{36}$/);
    }
    const columns = await query<{ column_name: string; data_type: string }>(
      db.url,
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    assert.deepEqual(
      columns.map((c) => c.column_name),
      ['id', 'checksum', 'finished_at', 'migration_name', 'logs', 'rolled_back_at', 'started_at', 'applied_steps_count'],
    );
    const tables = await query<{ tablename: string }>(db.url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    assert.deepEqual(
      tables.map((t) => t.tablename),
      [
        '_prisma_migrations',
        'api_tokens',
        'checkpoints',
        'figures',
        'metrics',
        'rank_attempts',
        'run_events',
        'runs',
        'sweep_trials',
        'sweeps',
        'teams',
        'webhook_deliveries',
        'webhooks',
      ],
    );

    // a second run is a no-op
    const again = await migrate(db.url);
    assert.deepEqual(again.applied, []);
    assert.deepEqual(
      again.skipped,
      local.map((m) => m.name),
    );
    const after = await query<MigrationRow>(db.url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
    assert.deepEqual(after, rows);
  } finally {
    await db.drop();
  }
});

test('a migration edited after it was applied is refused, and a new one is applied', async () => {
  const db = await createTempDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'cim-migrations-'));
  try {
    cpSync(defaultMigrationsDir, dir, { recursive: true });
    await migrate(db.url, { migrationsDir: dir });

    const [first] = readMigrations(dir);
    const file = join(dir, first.name, 'migration.sql');
    const original = readFileSync(file);
    appendFileSync(file, '\n-- an innocent-looking edit\n');
    await assert.rejects(migrate(db.url, { migrationsDir: dir }), (err: unknown) => {
      assert.ok(err instanceof MigrationError);
      assert.equal(err.migrationName, first.name);
      assert.match(err.message, new RegExp(`migration ${first.name} was modified after it was applied`));
      return true;
    });

    writeFileSync(file, original);
    cpSync(join(dir, first.name), join(dir, '29990101000000_more'), { recursive: true });
    writeFileSync(join(dir, '29990101000000_more', 'migration.sql'), 'CREATE TABLE "extra" ("id" INTEGER PRIMARY KEY);\n');
    const r = await migrate(db.url, { migrationsDir: dir });
    assert.deepEqual(r.applied, ['29990101000000_more']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});

test('a failing migration rolls back, is recorded as failed and blocks later runs', async () => {
  const db = await createTempDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'cim-migrations-'));
  try {
    cpSync(defaultMigrationsDir, dir, { recursive: true });
    cpSync(join(dir, readMigrations(dir)[0].name), join(dir, '29990101000000_bad'), { recursive: true });
    writeFileSync(join(dir, '29990101000000_bad', 'migration.sql'), 'CREATE TABLE "half" ("id" INTEGER);\nSELECT no_such_function();\n');
    await assert.rejects(migrate(db.url, { migrationsDir: dir }), /migration 29990101000000_bad failed and was rolled back/);
    const half = await query(db.url, `SELECT 1 FROM pg_tables WHERE tablename = 'half'`);
    assert.equal(half.length, 0, 'the failed migration left nothing behind');
    const [row] = await query<MigrationRow>(db.url, `SELECT * FROM "_prisma_migrations" WHERE migration_name = '29990101000000_bad'`);
    assert.equal(row.finished_at, null);
    assert.equal(row.applied_steps_count, 0);
    assert.match(row.logs ?? '', /no_such_function/);
    await assert.rejects(migrate(db.url, { migrationsDir: dir }), /failed earlier and was not resolved/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});

test('concurrent runners apply each migration once', async () => {
  const db = await createTempDatabase();
  try {
    const results = await Promise.all([migrate(db.url), migrate(db.url), migrate(db.url), migrate(db.url)]);
    const names = readMigrations().map((m) => m.name);
    assert.deepEqual(results.flatMap((r) => r.applied).sort(), names);
    const rows = await query<{ migration_name: string; n: string }>(
      db.url,
      'SELECT migration_name, count(*) AS n FROM "_prisma_migrations" GROUP BY 1 ORDER BY 1',
    );
    assert.deepEqual(
      rows.map((r) => [r.migration_name, Number(r.n)]),
      names.map((n) => [n, 1]),
    );
  } finally {
    await db.drop();
  }
});

test('the migrate script applies migrations from DATABASE_URL', async () => {
  const db = await createTempDatabase();
  try {
    const { spawnSync } = await import('node:child_process');
    const script = new URL('./migrate.ts', import.meta.url).pathname;
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /migrate: 1 applied, 0 already applied|migrate: \d+ applied, 0 already applied/);
    const r2 = spawnSync(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, DATABASE_URL: db.url },
      encoding: 'utf8',
    });
    assert.match(r2.stdout, /migrate: 0 applied, \d+ already applied/);
  } finally {
    await db.drop();
  }
});

test('failure_category: the migration backfills it from the old "<category>: " prefix of exit_reason and the run error', async () => {
  const db = await createTempDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'cim-migrations-'));
  try {
    const all = readMigrations();
    const target = all.findIndex((m) => m.name.endsWith('_failure_category'));
    assert.ok(target > 0);
    cpSync(join(defaultMigrationsDir, 'migration_lock.toml'), join(dir, 'migration_lock.toml'));
    for (const m of all.slice(0, target)) cpSync(join(defaultMigrationsDir, m.name), join(dir, m.name), { recursive: true });
    await migrate(db.url, { migrationsDir: dir });
    await query(
      db.url,
      `
      INSERT INTO teams (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 't');
      INSERT INTO runs (id, team_id, kind, status, config, world_size, error) VALUES
        ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'pretrain', 'FAILED', '{}', 4, 'rank 1: loss is NaN'),
        ('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-000000000001', 'pretrain', 'FAILED', '{}', 1, 'gave up after 3 restart(s); last: x'),
        ('00000000-0000-0000-0000-0000000000a3', '00000000-0000-0000-0000-000000000001', 'pretrain', 'SUCCEEDED', '{}', 1, NULL);
      INSERT INTO rank_attempts (run_id, attempt, rank, status, exit_reason) VALUES
        ('00000000-0000-0000-0000-0000000000a1', 0, 0, 'FAILED', 'user: loss is NaN'),
        ('00000000-0000-0000-0000-0000000000a1', 0, 1, 'FAILED', 'stopped: gang: stopped'),
        ('00000000-0000-0000-0000-0000000000a1', 0, 2, 'FAILED', 'heartbeat lost'),
        ('00000000-0000-0000-0000-0000000000a1', 0, 3, 'CANCELLED', 'cancelled: never started'),
        ('00000000-0000-0000-0000-0000000000a3', 0, 0, 'SUCCEEDED', 'ok: exit 0');`,
    );
    cpSync(join(defaultMigrationsDir, all[target].name), join(dir, all[target].name), { recursive: true });
    const r = await migrate(db.url, { migrationsDir: dir });
    assert.deepEqual(r.applied, [all[target].name]);
    const attempts = await query<{ rank: number; status: string; failure_category: string | null; exit_reason: string }>(
      db.url,
      'SELECT rank, status, failure_category, exit_reason FROM rank_attempts ORDER BY run_id, rank',
    );
    assert.deepEqual(
      attempts.map((a) => [a.status, a.failure_category, a.exit_reason]),
      [
        ['FAILED', 'user', 'loss is NaN'],
        ['FAILED', 'stopped', 'gang: stopped'],
        ['FAILED', 'infra', 'heartbeat lost'],
        ['CANCELLED', null, 'never started'],
        ['SUCCEEDED', null, 'exit 0'],
      ],
    );
    const runs = await query<{ status: string; failure_category: string | null }>(
      db.url,
      'SELECT status, failure_category FROM runs ORDER BY id',
    );
    assert.deepEqual(
      runs.map((x) => [x.status, x.failure_category]),
      [
        ['FAILED', 'user'],
        ['FAILED', 'infra'],
        ['SUCCEEDED', null],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});
