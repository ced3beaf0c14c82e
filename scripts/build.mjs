#!/usr/bin/env node
// Production build of the services to JavaScript (what the images run; no tsx at run time):
// esbuild bundles each entrypoint of ours into dist/, at the path its source has (apps/api/src/main.ts
// → dist/apps/api/src/main.js), with every npm package left external (the image's production
// node_modules provides them). The @cim-forge/* aliases come from tsconfig.base.json's paths.
//
//   node scripts/build.mjs            # everything the images run
//   node scripts/build.mjs api        # the API image: API, controller, migrations
//   node scripts/build.mjs worker     # the worker images: worker, its rank/figure runners, loader threads
//   node scripts/build.mjs worker --out .cache/x   # into another folder of the checkout (tests)
//
// Files we locate at run time through `import.meta.url` (the rank runner a worker spawns, a loader
// thread's entry, the migrations, the portal) keep working: in each source file `import.meta.url`
// becomes the URL its compiled twin has under dist/, `new URL('./x.ts', import.meta.url)` points at
// x.js, and the non-TypeScript files they name are copied beside them.
//
// Our Node-API addons load the same way: `createRequire(import.meta.url)('../native/build/Release/x.node')`
// in libs/collective and libs/cim resolves, in a bundle, against the source's twin under dist/, so
// each addon that is built (scripts/native-shm.mjs, native-gloo.mjs, native-dnnl.mjs) is copied to
// its own path under dist/ (dist/libs/collective/native/build/Release/cim_shm.node, …). One that is
// not built is left out, named in the summary, and the code falls back as in a checkout
// (`node dist/apps/worker/src/native-check.js` says what loads).
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const API = ['apps/api/src/main.ts', 'apps/worker/src/controller-main.ts', 'apps/api/src/migrate-main.ts'];
const WORKER = [
  'apps/worker/src/worker-main.ts',
  'apps/worker/src/controller-main.ts', // the chart may run the controller on the worker image
  'apps/worker/src/rank-runner.ts',
  'apps/worker/src/figures/figure-runner.ts',
  'libs/data/src/prefetch-worker.ts',
  'libs/engine/src/cim-sample.ts',
  'apps/api/src/migrate-main.ts',
  'apps/worker/src/native-check.ts', // what of the addons below loads (the image build asks it)
];
/** the Node-API addons the worker bundles load when present, copied to the same path under dist/ */
const NATIVE = [
  'libs/collective/native/build/Release/cim_shm.node',
  'libs/collective/native/gloo/build/Release/cim_gloo.node',
  'libs/cim/native/build/Release/cim_dnnl.node',
];
/** files (not bundled) that the bundles reach through import.meta.url, copied to the same path under dist/ */
const ASSETS = {
  api: ['prisma/migrations', 'apps/portal/dist'],
  worker: ['prisma/migrations', 'libs/data/src/worker-bootstrap.mjs'],
};

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const outArg = outAt >= 0 ? args.splice(outAt, 2)[1] : 'dist';
const which = args[0] ?? 'all';
if (!['all', 'api', 'worker'].includes(which) || args.length > 1 || !outArg) {
  console.error(`usage: node scripts/build.mjs [all|api|worker] [--out DIR] (got ${process.argv.slice(2).join(' ')})`);
  process.exit(2);
}
// inside the checkout: the bundles find their npm packages in its node_modules
const out = resolve(root, outArg);
if (out === root || !out.startsWith(root + sep)) {
  console.error(`build: --out must be a folder inside ${root} (got ${outArg})`);
  process.exit(2);
}
const entries = [...new Set(which === 'api' ? API : which === 'worker' ? WORKER : [...API, ...WORKER])];
const assets = [...new Set(which === 'all' ? [...ASSETS.api, ...ASSETS.worker] : ASSETS[which])];
const natives = which === 'api' ? [] : NATIVE;

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
for (const a of [...assets, ...natives]) rmSync(join(out, a), { recursive: true, force: true });
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
const copied = natives.filter((n) => existsSync(join(root, n)));
for (const n of copied) {
  mkdirSync(dirname(join(out, n)), { recursive: true });
  cpSync(join(root, n), join(out, n));
}
const missing = natives.filter((n) => !copied.includes(n)).map((n) => n.replace(/^.*\//, ''));
const size = entries.reduce((s, e) => s + statSync(join(out, jsPath(e))).size, 0);
console.log(
  `build (${which}): ${entries.length} bundles, ${(size / 1e6).toFixed(1)} MB, ${assets.length} assets` +
    (natives.length ? `, ${copied.length} of ${natives.length} addons${missing.length ? ` (not built: ${missing.join(', ')})` : ''}` : '') +
    ` → ${toPosix(relative(root, out))}/ in ${Date.now() - started} ms`,
);
