/**
 * The dev stack for one test file: a temporary database and directory, `startStack` on free ports
 * with a fresh queue prefix, and each service's output lines appended to the caller's `log`.
 * `closeTestStack` stops it and removes both. The stack-level test files share this instead of
 * each writing the same `before`/`after`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase, type TempDatabase } from '@cim-forge/db/testing';
import { freePort, startStack, type Stack, type StackOptions } from './stack.ts';

export interface TestStack {
  db: TempDatabase;
  /** the temporary directory: s3rver's files live in `s3/` under it */
  dir: string;
  stack: Stack;
  /** the controller's metrics port (worker i: base + 1 + i) */
  metricsBase: number;
}

export interface TestStackOptions extends Pick<StackOptions, 'workers' | 'adminToken'> {
  /** names the directory and the queue prefix (cim-<name>-…, cimtest-<name>-…) */
  name: string;
  /** service output lines go here, as "<service>: <line>" */
  log: string[];
  /** extra env for every service, given the temporary directory (made before it is called) */
  env?(dir: string): Record<string, string>;
}

export async function startTestStack(o: TestStackOptions): Promise<TestStack> {
  const db = await createTempDatabase();
  const dir = await mkdtemp(join(tmpdir(), `cim-${o.name}-`));
  const metricsBase = await freePort();
  const stack = await startStack({
    databaseUrl: db.url,
    queuePrefix: `cimtest-${o.name}-${randomBytes(4).toString('hex')}`,
    apiPort: await freePort(),
    s3Directory: join(dir, 's3'),
    workers: o.workers,
    adminToken: o.adminToken,
    metricsPortBase: metricsBase,
    env: o.env?.(dir),
    onLine: (service, line) => o.log.push(`${service}: ${line}`),
  }).catch(async (e: unknown) => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  return { db, dir, stack, metricsBase };
}

/** Stops the stack and removes its database and directory; any part may be missing (a failed start). */
export async function closeTestStack(t: Partial<TestStack> | undefined): Promise<void> {
  await t?.stack?.close();
  await t?.db?.drop();
  if (t?.dir) await rm(t.dir, { recursive: true, force: true });
}
