/**
 * Shared-memory payloads for the node-local group: a rank writes its gradients into a file of its
 * own in /dev/shm (tmpfs: RAM, never a disk), the node leader reads them from there, sums, and
 * writes the mean into a file of its own that the followers read. Only a 16-byte descriptor
 * (version, length) travels on the group's Unix socket, which stays the control plane and the
 * failure detector (a dead process closes its socket).
 *
 * How the bytes move: by mmap(2) through libs/collective/native (cim_shm.c, a ~100-line
 * Node-API addon that `npm ci` builds with node-gyp): the leader sums straight out of the
 * followers' pages and into its result pages. Without the addon (no compiler or headers, or
 * `useShmAccess('pread')`), the same files are written and read with pwrite/pread: one more copy each
 * way. docs/benchmarks.md has both, and the Unix socket they replace.
 *
 * With every rank of the node mapping (the usual case), the sum itself is shared out too: a
 * reduce-scatter in shared memory (node-local-group.ts): every rank, the leader included, writes
 * its gradients into its own file, and each of the G ranks sums 1/G of the elements from all G
 * files, in rank order, into the leader's result file; then all copy the whole mean out.
 *
 * Files: `${base}-r${rank}-v${version}.shm` (a rank's gradients) and `${base}-mean-r${leader}-v${version}.shm`
 * (the node's mean). A file only grows (a bigger payload makes version v+1). A name lives only
 * until every reader has the file open: the leader removes the names once every rank that reads
 * them has them mapped (after its own reading of the followers' files, when it sums alone; after
 * every rank reports its slice, in a reduce-scatter; its result file once every follower has sent
 * the next operation, when it sums alone); the pages live on in the mappings and go with the last
 * process. So after the first operation /dev/shm holds few names, or none, even if the whole gang is killed.
 * For the rest, the leader at close (and a follower whose leader died) removes every file of the
 * group, and a new leader removes files of earlier generations of its run on its node.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

interface ShmAddon {
  map(fd: number, bytes: number): ArrayBuffer;
  unmap(buffer: ArrayBuffer): void;
}

function loadAddon(): ShmAddon | undefined {
  try {
    return createRequire(import.meta.url)('../native/build/Release/cim_shm.node') as ShmAddon;
  } catch {
    return undefined;
  }
}

const addon = loadAddon();
/** the addon when new mappings use it (`useShmAccess('pread')` turns it off for this process) */
let mapper = addon;

/** how shared-memory files are accessed here: mmap (the addon) or pread/pwrite (no addon, or `useShmAccess('pread')`) */
export let shmAccess: 'mmap' | 'pread' = addon ? 'mmap' : 'pread';

/**
 * This process's access to shared-memory files from now on: `pread` (pread/pwrite even where the
 * addon loads; a benchmark's switch, `CIM_SHM=pread` in `npm run bench:allreduce`) or `mmap` (the
 * addon when it loads, the default).
 */
export function useShmAccess(mode: 'mmap' | 'pread'): void {
  mapper = mode === 'mmap' ? addon : undefined;
  shmAccess = mapper ? 'mmap' : 'pread';
}

/** /dev/shm where it exists (Linux), else the temp directory (`shmDir: 'none'`: sockets only) */
export function defaultShmDir(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export const DESCRIPTOR_BYTES = 16;

export interface ShmDescriptor {
  version: number;
  bytes: number;
  /** the writer maps shared files (mmap): it can take a slice of a reduce-scatter */
  mapped?: boolean;
}

export function encodeDescriptor(d: ShmDescriptor): Buffer {
  const b = Buffer.alloc(DESCRIPTOR_BYTES);
  b.writeUInt32LE(d.version, 0);
  b.writeUInt8(d.mapped ? 1 : 0, 4);
  b.writeDoubleLE(d.bytes, 8);
  return b;
}

export function decodeDescriptor(b: Buffer): ShmDescriptor {
  if (b.length !== DESCRIPTOR_BYTES) throw new Error(`shared-memory descriptor of ${b.length} bytes, expected ${DESCRIPTOR_BYTES}`);
  return { version: b.readUInt32LE(0), bytes: b.readDoubleLE(8), mapped: b.readUInt8(4) === 1 };
}

export const shmPath = (base: string, rank: number, version: number) => `${base}-r${rank}-v${version}.shm`;

/** pwrite/pread move at most 2 GiB per call */
const IO_STEP = 1 << 30;

/** A file this process writes: its own gradients (a follower) or the node's mean (the leader). */
export class ShmWriter {
  private version = 0;
  private capacity = 0;
  private fd: number | undefined;
  private mapped: ArrayBuffer | undefined;

  constructor(
    private readonly base: string,
    private readonly rank: number,
  ) {}

  /**
   * Float32 slots for n values that peers will read: a view of the shared pages (mmap; write
   * into it, then `descriptor`), or undefined (pread mode: call `write`).
   */
  floats(n: number): Float32Array | undefined {
    this.ensure(n * 4);
    return this.mapped ? new Float32Array(this.mapped, 0, n) : undefined;
  }

  /** copies `data` into the file */
  write(data: Float32Array): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const view = this.floats(data.length);
    if (view) {
      if (view.buffer !== data.buffer) view.set(data);
      return;
    }
    for (let off = 0; off < bytes.length; off += IO_STEP) writeSync(this.fd!, bytes, off, Math.min(IO_STEP, bytes.length - off), off);
  }

  /** what a peer needs to read the last `n` floats written */
  descriptor(n: number): Buffer {
    return encodeDescriptor({ version: this.version, bytes: n * 4, mapped: this.mapped !== undefined });
  }

  /** whether `a` is a view of this writer's shared pages */
  owns(a: Float32Array): boolean {
    return this.mapped !== undefined && a.buffer === this.mapped;
  }

  /** removes the file's name (every reader has it open); the pages stay mapped here */
  unlink(): void {
    if (this.version) rmSync(shmPath(this.base, this.rank, this.version), { force: true });
  }

  close(): void {
    this.release();
    this.unlink();
  }

  private ensure(bytes: number): void {
    if (bytes <= this.capacity) return;
    this.release();
    if (this.version) rmSync(shmPath(this.base, this.rank, this.version), { force: true });
    this.version++;
    const path = shmPath(this.base, this.rank, this.version);
    const fd = openSync(path, 'w+', 0o600);
    try {
      ftruncateSync(fd, bytes);
    } catch (e) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw new Error(`cannot size ${path} to ${bytes} bytes: ${(e as Error).message} (is the shared-memory directory full?)`);
    }
    if (mapper) {
      this.mapped = mapper.map(fd, bytes);
      closeSync(fd);
    } else this.fd = fd;
    this.capacity = bytes;
  }

  private release(): void {
    if (this.mapped) addon!.unmap(this.mapped);
    this.mapped = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.capacity = 0;
  }
}

/** Reads the files another rank of the node writes (by the descriptors it sends). */
export class ShmReader {
  private version = 0;
  private fd: number | undefined;
  private mapped: ArrayBuffer | undefined;

  constructor(
    private readonly base: string,
    private readonly rank: number,
    /** remove the file's name once it is open here (this reader is its only one) */
    private readonly unlinkOnOpen = false,
  ) {}

  /**
   * The floats a descriptor names: copied into `into` when given (which is returned), else a view
   * of the peer's pages (mmap: valid until the peer writes again, i.e. until the next operation),
   * or a fresh copy (pread).
   */
  floats(d: ShmDescriptor, into?: Float32Array): Float32Array {
    if (d.version !== this.version) this.open(d);
    const n = d.bytes / 4;
    if (into && into.length !== n)
      throw new Error(`rank ${this.rank}'s shared-memory payload holds ${n} floats, the destination ${into.length}`);
    if (this.mapped) {
      if (d.bytes > this.mapped.byteLength)
        throw new Error(`rank ${this.rank}'s shared-memory file v${d.version} is smaller than ${d.bytes} bytes`);
      const view = new Float32Array(this.mapped, 0, n);
      if (!into) return view;
      into.set(view);
      return into;
    }
    const out = into ?? new Float32Array(n);
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    for (let off = 0; off < bytes.length;) {
      const got = readSync(this.fd!, bytes, off, Math.min(IO_STEP, bytes.length - off), off);
      if (got <= 0) throw new Error(`rank ${this.rank}'s shared-memory file v${d.version} ends at ${off} bytes, expected ${d.bytes}`);
      off += got;
    }
    return out;
  }

  close(): void {
    if (this.mapped) addon!.unmap(this.mapped);
    this.mapped = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** removes the name of the file open here (every reader of it has it open) */
  unlink(): void {
    if (this.version) rmSync(shmPath(this.base, this.rank, this.version), { force: true });
  }

  private open(d: ShmDescriptor): void {
    this.close();
    const path = shmPath(this.base, this.rank, d.version);
    const fd = openSync(path, 'r+');
    if (mapper) {
      try {
        this.mapped = mapper.map(fd, d.bytes);
      } finally {
        closeSync(fd);
      }
    } else this.fd = fd;
    this.version = d.version;
    if (this.unlinkOnOpen) rmSync(path, { force: true });
  }
}

/** Removes this group's files (`all`), or files of other generations that share `runPrefix`. */
export function sweepShm(base: string, runPrefix?: string): void {
  const dir = dirname(base);
  const mine = basename(base);
  const stale = runPrefix ? basename(runPrefix) : undefined;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.endsWith('.shm') && !name.endsWith('.hello')) continue;
    const ours = name.startsWith(`${mine}-`);
    if (stale ? name.startsWith(stale) && !ours : ours) rmSync(join(dir, name), { force: true });
  }
}
