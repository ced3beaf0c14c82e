// The portal's build: `npm run portal:build` (scripts/portal-build.mjs) → apps/portal/dist, which
// the API serves at /. esbuild compiles the TSX (no Babel plugin needed for a production build).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  esbuild: { jsx: 'automatic' },
  // the typed client's names and enums (libs/client), as tsconfig.base.json maps them
  resolve: { alias: { '@cim-forge/client': fileURLToPath(new URL('../../libs/client/src/index.ts', import.meta.url)) } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // no source maps: the API would publish the portal's sources with them (issue 24)
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // TanStack's "use client" (a React Server Components hint) means nothing in a plain SPA
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE' || warning.code === 'SOURCEMAP_ERROR') return;
        warn(warning);
      },
    },
  },
  server: {
    // `npx vite apps/portal` while `npm run dev` runs: the API answers /v1
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
});
