/**
 * `npm run dev`: the whole service on this machine, for development and the README's curl
 * walk-through. s3rver keeps its objects in .cache/s3rver; PostgreSQL database `cim_dev` is
 * created and migrated; the API listens on :8080 with admin token $CIM_ADMIN_TOKEN (a dev default
 * is printed). Ctrl-C stops everything (workers checkpoint first).
 *
 *   npm run dev -- [--workers N] [--port P]
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { processEnv, SettingsReader } from '@cim-forge/settings';
import { startStack } from './stack.ts';

// the dev stack's settings (libs/config's table, role `dev`): dev defaults for what the services require
const settings = new SettingsReader(processEnv(), 'dev');
const env = {
  port: settings.int('PORT', { min: 0, max: 65535 }),
  adminToken: settings.text('CIM_ADMIN_TOKEN')!,
  databaseUrl: settings.url('DATABASE_URL', ['postgresql:', 'postgres:'])!,
  redisUrl: settings.url('REDIS_URL', ['redis:', 'rediss:'])!,
  s3Port: settings.int('S3_PORT', { min: 1, max: 65535 }),
  dataRoot: resolve(settings.text('CIM_DATA_ROOT')!),
};
settings.done('dev stack');
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    port: { type: 'string', default: String(env.port) },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`npm run dev -- [--workers N] [--port P]

Starts s3rver (S3 on :4569, objects in .cache/s3rver), migrates PostgreSQL database cim_dev
(DATABASE_URL overrides), and runs the API (:8080), the controller and N workers (default 2)
against Redis (REDIS_URL, default redis://127.0.0.1:6379). Then follow the curl walk-through in
README.md ("Run the service locally"). Ctrl-C stops it all.`);
  process.exit(0);
}
const workers = Number(values.workers);
const port = Number(values.port);
if (!Number.isInteger(workers) || workers < 1 || workers > 16)
  throw new Error(`--workers must be an integer in 1..16, got ${values.workers}`);
const adminToken = env.adminToken;
const colours: Record<string, string> = { api: '36', controller: '35' };
const stack = await startStack({
  databaseUrl: env.databaseUrl,
  createDatabase: true,
  redisUrl: env.redisUrl,
  apiPort: port,
  s3Port: env.s3Port,
  s3Directory: resolve('.cache/s3rver'),
  workers,
  // teams' data areas on disk: .cache/data/<team id>/<folder> (or S3: s3://cim-dev/data/<team id>/…)
  env: { CIM_DATA_ROOT: env.dataRoot },
  adminToken,
  onLine: (service, line) => console.log(`\x1b[${colours[service] ?? '33'}m${service.padEnd(10)}\x1b[0m ${line}`),
});
console.log(`
CIM Forge is up:
  API         ${stack.apiUrl}   (OpenAPI: ${stack.apiUrl}/docs)
  S3          ${stack.s3Endpoint}   bucket ${stack.bucket}
  data areas  ${stack.env.CIM_DATA_ROOT}/<team id>/   and   s3://${stack.bucket}/data/<team id>/
  admin token ${adminToken}
  workers     ${workers}

  export API=${stack.apiUrl} CIM_ADMIN_TOKEN=${adminToken}
  then follow README.md → "Run the service locally".  Ctrl-C stops everything.
`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('stopping…');
  await stack.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
