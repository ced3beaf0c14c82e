// The Prisma client over node-postgres (@prisma/adapter-pg): no engine binary, queries are
// compiled in wasm and run through a pg pool. One per process; `close()` is safe to call twice.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.ts';

export type Db = PrismaClient;

export interface CreateDbOptions {
  // pg pool size per process; the worker's metrics sink and the API share it
  maxConnections?: number;
}

export function createDb(databaseUrl: string, options: CreateDbOptions = {}): Db {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.maxConnections ?? 10 });
  return new PrismaClient({ adapter });
}
