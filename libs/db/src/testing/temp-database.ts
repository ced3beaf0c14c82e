// A throwaway database per test file: CREATE DATABASE cimtest_<pid>_<rand> on the server of
// CIM_TEST_DATABASE_URL (default: local trust-auth Postgres), dropped (FORCE) at the end, so
// parallel runs never share state.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const adminUrl = process.env.CIM_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TempDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function createTempDatabase(): Promise<TempDatabase> {
  const name = `cimtest_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}
