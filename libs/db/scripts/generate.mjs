// Generates the Prisma client (libs/db/src/generated/prisma, git-ignored) from prisma/schema.prisma.
// Works offline on a fresh `npm ci`: `prisma generate` needs no engine binary with the
// `prisma-client` generator and driver adapters, but the CLI insists that a schema-engine file
// exists and would download one (npm 11 skips @prisma/engines' postinstall). When none was
// installed we point PRISMA_SCHEMA_ENGINE_BINARY at an existing file (this node binary); it is
// never executed by `generate`. Migrations are applied by libs/db/src/migrate.ts, not by Prisma.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const enginesDir = join(root, 'node_modules', '@prisma', 'engines');
const hasEngine = existsSync(enginesDir) && readdirSync(enginesDir).some((f) => f.startsWith('schema-engine'));
const env = { ...process.env, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY && !hasEngine) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;

const cli = join(root, 'node_modules', 'prisma', 'build', 'index.js');
const r = spawnSync(process.execPath, [cli, 'generate', '--schema', join(root, 'prisma', 'schema.prisma')], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
