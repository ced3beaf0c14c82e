// Builds the portal (apps/portal) into apps/portal/dist with Vite, offline. Run by `npm ci`
// (postinstall) and `npm run portal:build`. Without Vite (an `npm ci --omit=dev` image) it says
// so and exits 0: the API then serves a page explaining how to build the portal. Without the
// portal's sources (an image's dependency layer) it skips too.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
if (!existsSync(fileURLToPath(new URL('../apps/portal/vite.config.ts', import.meta.url)))) {
  // an image's dependency layer, before the sources are copied: the image builds it later
  console.log('portal: apps/portal is not here yet; skipping the portal build');
  process.exit(0);
}
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
