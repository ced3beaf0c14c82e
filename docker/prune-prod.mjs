// Run in an image's `prod` stage after `npm ci --omit=dev`: deletes every package in node_modules
// that the runtime cannot reach. npm keeps the peers of production packages even when only the
// build needs them (@prisma/client's peers, the prisma CLI and typescript, with ~70 MB of their own
// dependencies), so reachability is computed here: from package.json's dependencies and
// optionalDependencies, less those named by --drop, along each package's dependencies and
// optionalDependencies (resolved as Node does, up the node_modules folders), not its peers. Peers
// we load at run time are our own dependencies too (fastify, tfjs-core), so they stay. Type
// declarations (@types/*, which some packages list as dependencies) are never loaded: they go.
//   node prune-prod.mjs [--drop NAME]... [--keep NAME]...   (in the folder with package.json and node_modules)
// --keep: a root package.json does not name (one installed with --no-save).
// Prints what it removed; exits 1 when a kept package's dependency would not resolve.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const drop = new Set();
const keep = new Set();
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--drop' && process.argv[i + 1]) drop.add(process.argv[++i]);
  else if (process.argv[i] === '--keep' && process.argv[i + 1]) keep.add(process.argv[++i]);
  else {
    console.error(`usage: node prune-prod.mjs [--drop NAME]... [--keep NAME]... (got ${process.argv[i]})`);
    process.exit(2);
  }
}
const root = process.cwd();
const readPkg = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

/** the folder `name` resolves to from a package in `fromDir`, as Node's resolution walks up */
function resolvePkg(name, fromDir) {
  for (let d = fromDir; ; d = dirname(d)) {
    const c = join(d, 'node_modules', name);
    if (existsSync(join(c, 'package.json'))) return c;
    if (d === root || d === dirname(d)) return undefined;
  }
}

const rootPkg = readPkg(root);
const optional = new Set(Object.keys(rootPkg.optionalDependencies ?? {}));
const roots = [...Object.keys({ ...rootPkg.dependencies, ...rootPkg.optionalDependencies }), ...keep].filter((n) => !drop.has(n));
const reached = new Set();
const missing = [];
const queue = roots.map((n) => [n, root, !optional.has(n) || keep.has(n)]);
while (queue.length) {
  const [name, from, required] = queue.pop();
  if (drop.has(name) || name.startsWith('@types/')) continue;
  const dir = resolvePkg(name, from);
  if (!dir) {
    if (required) missing.push(`${name} (from ${relative(root, from) || 'package.json'})`);
    continue;
  }
  if (reached.has(dir)) continue;
  reached.add(dir);
  const p = readPkg(dir);
  for (const n of Object.keys(p.dependencies ?? {})) queue.push([n, dir, true]);
  for (const n of Object.keys(p.optionalDependencies ?? {})) queue.push([n, dir, false]);
}
if (missing.length) {
  console.error(`prune-prod: dependencies that do not resolve: ${missing.join(', ')}`);
  process.exit(1);
}

/** every package folder under a node_modules folder (scoped ones included), nested ones too */
function packages(nm, out = []) {
  if (!existsSync(nm)) return out;
  for (const e of readdirSync(nm)) {
    if (e.startsWith('.')) continue;
    const dirs = e.startsWith('@') ? readdirSync(join(nm, e)).map((s) => join(nm, e, s)) : [join(nm, e)];
    for (const d of dirs) {
      if (!existsSync(join(d, 'package.json'))) continue;
      out.push(d);
      packages(join(d, 'node_modules'), out);
    }
  }
  return out;
}
function size(p) {
  const s = statSync(p, { throwIfNoEntry: false });
  if (!s || s.isSymbolicLink()) return 0;
  return s.isDirectory() ? readdirSync(p).reduce((n, e) => n + size(join(p, e)), 0) : s.size;
}

let bytes = 0;
const removed = [];
for (const d of packages(join(root, 'node_modules'))) {
  if (reached.has(d) || !existsSync(d)) continue;
  bytes += size(d);
  removed.push(relative(join(root, 'node_modules'), d));
  rmSync(d, { recursive: true, force: true });
}
// empty scope folders and the .bin links of what went
for (const e of readdirSync(join(root, 'node_modules'))) {
  const p = join(root, 'node_modules', e);
  if (e.startsWith('@') && readdirSync(p).length === 0) rmSync(p, { recursive: true });
}
const bin = join(root, 'node_modules/.bin');
if (existsSync(bin)) for (const b of readdirSync(bin)) if (!existsSync(join(bin, b))) rmSync(join(bin, b), { force: true });
console.log(
  `prune-prod: kept ${reached.size} packages, removed ${removed.length} (${(bytes / 1e6).toFixed(0)} MB)` +
    `${drop.size ? `; dropped ${[...drop].join(', ')}` : ''}`,
);
console.log(`prune-prod: removed ${removed.sort().join(' ')}`);
