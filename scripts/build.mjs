#!/usr/bin/env node
// Production build of the services to JavaScript (what the images run; no tsx at run time):
// esbuild bundles each entrypoint of ours into dist/, at the path its source has (apps/api/src/main.ts
// → dist/apps/api/src/main.js), with every npm package left external (the image's production
// node_modules provides them). The @cim-forge/* aliases come from tsconfig.base.json's paths.
//
//   node scripts/build.mjs            # everything the images run
//   node scripts/build.mjs api        # the API image: API, controller, migrations
//   node scripts/build.mjs worker     # the worker images: worker, its rank/figure runners, loader threads
//
// Files we locate at run time through `import.meta.url` (the rank runner a worker spawns, a loader
// thread's entry, the migrations, the portal) keep working: in each source file `import.meta.url`
// becomes the URL its compiled twin has under dist/, `new URL('./x.ts', import.meta.url)` points at
// x.js, and the non-TypeScript files they name are copied beside them.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');

const API = ['apps/api/src/main.ts', 'apps/worker/src/controller-main.ts', 'apps/api/src/migrate-main.ts'];
const WORKER = [
  'apps/worker/src/worker-main.ts',
  'apps/worker/src/controller-main.ts', // the chart may run the controller on the worker image
  'apps/worker/src/rank-runner.ts',
  'apps/worker/src/figures/figure-runner.ts',
  'libs/data/src/prefetch-worker.ts',
  'libs/engine/src/cim-sample.ts',
  'apps/api/src/migrate-main.ts',
];
/** files (not bundled) that the bundles reach through import.meta.url, copied to the same path under dist/ */
const ASSETS = {
  api: ['prisma/migrations', 'apps/portal/dist'],
  worker: ['prisma/migrations', 'libs/data/src/worker-bootstrap.mjs'],
};

const which = process.argv[2] ?? 'all';
if (!['all', 'api', 'worker'].includes(which)) {
  console.error(`usage: node scripts/build.mjs [all|api|worker] (got ${which})`);
  process.exit(2);
}
const entries = [...new Set(which === 'api' ? API : which === 'worker' ? WORKER : [...API, ...WORKER])];
const assets = [...new Set(which === 'all' ? [...ASSETS.api, ...ASSETS.worker] : ASSETS[which])];

const toPosix = (p) => p.split(sep).join('/');
const jsPath = (rel) => rel.replace(/\.ts$/, '.js');

/** `import.meta.url` of each of our sources → the URL of its compiled twin under dist/ */
const metaUrl = {
  name: 'cim-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      let text = readFileSync(args.path, 'utf8');
      if (text.includes('import.meta.url')) {
        text = text.replace(/(new URL\(\s*(['"]))(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$3.js$2');
        const twin = jsPath(toPosix(relative(root, args.path)));
        text = text.replaceAll('import.meta.url', `__cimDistUrl(${JSON.stringify(twin)})`);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

const started = Date.now();
for (const a of assets) {
  const src = join(root, a);
  if (!existsSync(src)) {
    console.error(`build: ${a} is missing${a === 'apps/portal/dist' ? ' (run `npm run portal:build` first)' : ''}`);
    process.exit(1);
  }
}
// only what this build writes is replaced (`build api` and `build worker` share dist/)
for (const a of assets) rmSync(join(out, a), { recursive: true, force: true });
for (const entry of entries) {
  const outfile = join(out, jsPath(entry));
  const up = '../'.repeat(entry.split('/').length - 1);
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    tsconfig: join(root, 'tsconfig.base.json'),
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [metaUrl],
    // the dist root, from this bundle's own URL; then any source file's twin under it
    banner: {
      js: `const __cimDistRoot = new URL(${JSON.stringify(up)}, import.meta.url);\nconst __cimDistUrl = (p) => new URL(p, __cimDistRoot).href;`,
    },
  });
}
for (const a of assets) {
  const dest = join(out, a);
  mkdirSync(dirname(dest), { recursive: true });
  cpSync(join(root, a), dest, { recursive: statSync(join(root, a)).isDirectory() });
}
const size = entries.reduce((s, e) => s + statSync(join(out, jsPath(e))).size, 0);
console.log(
  `build (${which}): ${entries.length} bundles, ${(size / 1e6).toFixed(1)} MB, ${assets.length} assets → dist/ in ${Date.now() - started} ms`,
);
