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
    assert.deepEqual(r.applied, local.map((m) => m.name));
    assert.deepEqual(r.skipped, []);

    const rows = await query<MigrationRow>(db.url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
    assert.deepEqual(rows.map((x) => x.migration_name), local.map((m) => m.name));
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
    assert.deepEqual(columns.map((c) => c.column_name), [
      'id', 'checksum', 'finished_at', 'migration_name', 'logs', 'rolled_back_at', 'started_at', 'applied_steps_count',
    ]);
    const tables = await query<{ tablename: string }>(db.url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    assert.deepEqual(tables.map((t) => t.tablename), [
      '_prisma_migrations', 'api_tokens', 'checkpoints', 'figures', 'metrics', 'rank_attempts', 'run_events', 'runs', 'teams',
      'webhook_deliveries', 'webhooks',
    ]);

    // a second run is a no-op
    const again = await migrate(db.url);
    assert.deepEqual(again.applied, []);
    assert.deepEqual(again.skipped, local.map((m) => m.name));
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
    assert.deepEqual(rows.map((r) => [r.migration_name, Number(r.n)]), names.map((n) => [n, 1]));
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
    const r2 = spawnSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, DATABASE_URL: db.url }, encoding: 'utf8' });
    assert.match(r2.stdout, /migrate: 0 applied, \d+ already applied/);
  } finally {
    await db.drop();
  }
});
