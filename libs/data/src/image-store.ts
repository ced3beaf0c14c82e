import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Where an ImageFolder's files live. Keys are '/'-separated paths relative to the root
 * ("<class>/<sub/dirs/>file.jpg"). The local filesystem implements it here; an S3 store
 * (ListObjectsV2 under a prefix + GetObject) implements the same three members.
 */
export interface ImageStore {
  /** for messages: "/data/imagenet/train" or "s3://bucket/prefix" */
  readonly location: string;
  /** all file keys under the root, in any order; rejects if the root does not exist */
  list(): Promise<string[]>;
  /** the file's bytes */
  read(key: string): Promise<Uint8Array>;
}

export interface LocalImageStoreOptions {
  /**
   * A data area the store may never leave: the root and every file and directory it reaches must
   * resolve (realpath, symlinks followed) inside it. Symlinks that lead out are skipped by the walk
   * and refused by read(), which opens a file once and checks the opened file (not its name, which
   * the team may swap meanwhile) before reading from that handle; messages name paths relative to
   * the area only.
   */
  area?: string;
  /** deepest directory nesting walked below the root (default 32) */
  maxDepth?: number;
  /** most directory entries looked at in one walk (default 10 million) */
  maxEntries?: number;
}

/** true when `path` is `dir` or inside it (both absolute and resolved) */
export function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel);
}

/** the message for a root that is not a directory inside the area, whatever the reason (no leak) */
export function notInAreaMessage(shown: string): string {
  return `image folder ${shown} is not a directory in the data area`;
}

export function localImageStore(root: string, opts: LocalImageStoreOptions = {}): ImageStore {
  const abs = resolve(root);
  const area = opts.area === undefined ? undefined : resolve(opts.area);
  if (area !== undefined && !isInside(area, abs)) throw new Error(notInAreaMessage('(outside the data area)'));
  // inside an area, say "data:<path in the area>"; never the worker's own directories
  const location = area === undefined ? abs : `data:${relative(area, abs).split(sep).join('/') || '.'}`;
  const maxDepth = opts.maxDepth ?? 32;
  const maxEntries = opts.maxEntries ?? 10_000_000;
  let realArea: string | undefined;
  const areaReal = async () => (realArea ??= await realpath(area!));
  /** realpath of p if it exists and (with an area) lies inside it; undefined otherwise */
  const resolveInside = async (p: string): Promise<string | undefined> => {
    const real = await realpath(p).catch(() => undefined);
    if (real === undefined) return undefined;
    if (area !== undefined && !isInside(await areaReal(), real)) return undefined;
    return real;
  };
  return {
    location,
    async list(): Promise<string[]> {
      const real = await resolveInside(abs);
      const st = real === undefined ? undefined : await stat(real).catch(() => undefined);
      if (area !== undefined && !st?.isDirectory()) throw new Error(notInAreaMessage(location));
      if (!st) throw new Error(`image folder ${location} does not exist`);
      if (!st.isDirectory()) throw new Error(`image folder ${location} is not a directory`);
      const keys: string[] = [];
      const budget = { entries: maxEntries };
      const state = { visited: new Set([real!]), depth: 0, maxDepth, budget, resolveInside, location, confined: area !== undefined };
      await walk(real!, '', keys, state);
      return keys;
    },
    async read(key: string): Promise<Uint8Array> {
      const parts = key.split('/');
      if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new Error(`image key "${key}" is not a plain relative path`);
      const path = join(abs, ...parts);
      if (area === undefined) return readFile(path);
      // opened once, then the OPENED file is checked and read: a name swapped for a symlink out of
      // the area (after the walk, or between a check and a read) is refused, never followed
      const refused = () => new Error(`image ${location}/${key} is not a file in the data area`);
      let fh: FileHandle;
      try {
        // non-blocking: a FIFO planted in the area does not hang the open
        fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') throw refused();
        // the system's message would name the worker's own path
        throw new Error(`image ${location}/${key} cannot be read (${code ?? 'error'})`);
      }
      try {
        const st = await fh.stat();
        if (st.isDirectory()) throw new Error(`image ${location}/${key} cannot be read (EISDIR)`);
        if (!st.isFile()) throw refused();
        const real = await openedPath(fh, path, st);
        if (real === undefined || !isInside(await areaReal(), real)) throw refused();
        return await fh.readFile().catch((e: NodeJS.ErrnoException) => {
          throw new Error(`image ${location}/${key} cannot be read (${e.code ?? 'error'})`);
        });
      } finally {
        await fh.close();
      }
    },
  };
}

/**
 * Where the file behind an open handle really is: on Linux the kernel's own name for the
 * descriptor (/proc/self/fd/N), whatever the path has become since; elsewhere the path's realpath
 * now, accepted only when it is the very file that was opened (same device and inode).
 */
async function openedPath(fh: FileHandle, path: string, opened: { dev: number; ino: number }): Promise<string | undefined> {
  const viaProc = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
  if (viaProc !== undefined) return viaProc.endsWith(' (deleted)') ? undefined : viaProc;
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined) return undefined;
  const now = await stat(real).catch(() => undefined);
  return now && now.dev === opened.dev && now.ino === opened.ino ? real : undefined;
}

interface WalkState {
  /** real paths of the directories on the walk so far: a directory is listed once (loops end) */
  visited: Set<string>;
  depth: number;
  maxDepth: number;
  budget: { entries: number };
  resolveInside: (p: string) => Promise<string | undefined>;
  location: string;
  /** in an area, system errors (which name absolute paths) become messages that name none */
  confined: boolean;
}

/**
 * Recursively lists files, skipping dot-files. A symlink is followed only when its target resolves
 * inside the area (with one); each real directory is walked once, so symlink loops and diamonds
 * cost one visit each, and the walk is bounded in depth and entries.
 */
async function walk(dir: string, prefix: string, out: string[], s: WalkState): Promise<void> {
  if (s.depth > s.maxDepth) throw new Error(`image folder ${s.location}: directories nested deeper than ${s.maxDepth} levels`);
  const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (!s.confined) throw e;
    throw new Error(`image folder ${s.location}: a folder in it cannot be listed (${e.code ?? 'error'})`);
  });
  for (const entry of entries) {
    if (--s.budget.entries < 0) throw new Error(`image folder ${s.location}: more than the limit of directory entries; split the data set`);
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    const key = prefix + entry.name;
    if (entry.isFile()) {
      out.push(key);
      continue;
    }
    if (!entry.isDirectory() && !entry.isSymbolicLink()) continue; // sockets, fifos, devices
    const real = entry.isSymbolicLink() ? await s.resolveInside(path) : path;
    if (real === undefined) continue; // dangling, or leads out of the area
    const st = entry.isSymbolicLink() ? await stat(real).catch(() => undefined) : await lstat(real);
    if (st?.isFile()) out.push(key);
    else if (st?.isDirectory()) {
      const canonical = entry.isSymbolicLink() ? real : await realpath(real);
      if (s.visited.has(canonical)) continue;
      s.visited.add(canonical);
      await walk(real, key + '/', out, { ...s, depth: s.depth + 1 });
    }
  }
}
