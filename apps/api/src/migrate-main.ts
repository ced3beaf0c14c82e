/**
 * `npm run db:migrate`, and what the images and the chart's migration Job start
 * (`node dist/apps/api/src/migrate-main.js`): applies prisma/migrations to the database named by
 * DATABASE_URL, read through the settings reader, with libs/db's runner (`migrate`), which takes
 * the URL as an argument. Exit 2: no DATABASE_URL; exit 1: a migration failed (rolled back).
 */
import { migrate } from '@cim-forge/db';
import { processEnv, SettingsReader } from '@cim-forge/settings';

const settings = new SettingsReader(processEnv(), 'api');
const url = settings.text('DATABASE_URL');
if (!url) {
  console.error('migrate: DATABASE_URL is not set');
  process.exit(2);
}
try {
  const r = await migrate(url, { log: (line) => console.log(`migrate: ${line}`) });
  console.log(`migrate: ${r.applied.length} applied, ${r.skipped.length} already applied`);
} catch (err) {
  console.error(`migrate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
