// Applies prisma/migrations/<timestamp>_<name>/migration.sql in name order and records each in
// _prisma_migrations exactly as `prisma migrate deploy` does (same table, sha256 checksum of the
// file, applied_steps_count 1), so the Prisma CLI sees the same history. Differences, on purpose:
// each migration runs inside a transaction (a failure leaves the schema untouched), and a migration
// whose file changed after it was applied is refused, not warned about.
//
// The database is an argument (`migrate(url)`); its command is apps/api/src/migrate-main.ts, which
// reads DATABASE_URL through the settings reader: DATABASE_URL=postgres://… npm run db:migrate
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const defaultMigrationsDir = fileURLToPath(new URL('../../../prisma/migrations/', import.meta.url));

// the advisory-lock key `prisma migrate` uses, so this runner and the Prisma CLI exclude each other
const MIGRATION_LOCK_KEY = 72707369;

// the table `prisma migrate` creates, column for column
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  // sha256 (hex) of migration.sql's bytes
  checksum: string;
}

export interface MigrateOptions {
  migrationsDir?: string;
  log?: (line: string) => void;
}

export interface MigrateResult {
  // applied by this call, in order
  applied: string[];
  // already in the database before this call
  skipped: string[];
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migrationName?: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

export function readMigrations(migrationsDir: string = defaultMigrationsDir): MigrationFile[] {
  const lock = readFileSync(join(migrationsDir, 'migration_lock.toml'), 'utf8');
  if (!/^\s*provider\s*=\s*"postgresql"\s*$/m.test(lock)) {
    throw new MigrationError(`${join(migrationsDir, 'migration_lock.toml')}: provider is not "postgresql"`);
  }
  return readdirSync(migrationsDir)
    .filter((name) => statSync(join(migrationsDir, name)).isDirectory())
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(migrationsDir, name, 'migration.sql'));
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    });
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
}

export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const migrations = readMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // session lock: a second runner waits here, then finds everything applied
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await applyPending(client, migrations, log);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function applyPending(client: pg.Client, migrations: MigrationFile[], log: (line: string) => void): Promise<MigrateResult> {
  await client.query(CREATE_MIGRATIONS_TABLE);
  const { rows } = await client.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at, logs FROM "_prisma_migrations"
     WHERE rolled_back_at IS NULL ORDER BY started_at`,
  );
  const failed = rows.find((r) => r.finished_at === null);
  if (failed) {
    throw new MigrationError(
      `migration ${failed.migration_name} failed earlier and was not resolved (nothing of it was applied: it ran ` +
        `in a transaction). Fix it, then mark it rolled back: UPDATE "_prisma_migrations" SET rolled_back_at = now() ` +
        `WHERE migration_name = '${failed.migration_name}' AND finished_at IS NULL. Error was: ${failed.logs ?? '(none)'}`,
      failed.migration_name,
    );
  }
  const applied = new Map(rows.map((r) => [r.migration_name, r.checksum]));
  for (const m of migrations) {
    const checksum = applied.get(m.name);
    if (checksum !== undefined && checksum !== m.checksum) {
      throw new MigrationError(
        `migration ${m.name} was modified after it was applied (checksum in database ${checksum}, ` +
          `file ${m.checksum}); add a new migration instead of editing an applied one`,
        m.name,
      );
    }
  }

  const result: MigrateResult = { applied: [], skipped: [] };
  for (const m of migrations) {
    if (applied.has(m.name)) {
      result.skipped.push(m.name);
      continue;
    }
    log(`applying ${m.name}`);
    const startedAt = new Date();
    try {
      await client.query('BEGIN');
      await client.query(m.sql);
      await client.query(
        `INSERT INTO "_prisma_migrations"
           (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ($1, $2, clock_timestamp(), $3, NULL, NULL, $4, 1)`,
        [randomUUID(), m.checksum, m.name, startedAt],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      const message = err instanceof Error ? err.message : String(err);
      // as `prisma migrate deploy` does: a failed row blocks later runs until someone resolves it
      await client.query(
        `INSERT INTO "_prisma_migrations"
           (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ($1, $2, NULL, $3, $4, NULL, $5, 0)`,
        [randomUUID(), m.checksum, m.name, message, startedAt],
      );
      throw new MigrationError(`migration ${m.name} failed and was rolled back: ${message}`, m.name);
    }
    result.applied.push(m.name);
  }
  return result;
}
