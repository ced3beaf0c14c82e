// Builds the portal (apps/portal) into apps/portal/dist with Vite, offline. Run by `npm ci`
// (postinstall) and `npm run portal:build`. Without Vite (an `npm ci --omit=dev` image) it says
// so and exits 0: the API then serves a page explaining how to build the portal.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
try {
  require.resolve('vite');
} catch {
  console.log('portal: vite is not installed (production install?); skipping the portal build');
  process.exit(0);
}
const { build } = await import('vite');
const root = fileURLToPath(new URL('../apps/portal/', import.meta.url));
await build({ root, configFile: `${root}vite.config.ts`, logLevel: 'warn' });
console.log('portal: built apps/portal/dist');
