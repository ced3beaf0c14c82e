/**
 * The ranks of one node, joined by a Unix socket: the node leader (the node's lowest rank)
 * listens, every other rank (a follower) connects. Each collective operation is one exchange:
 * every follower sends the leader its payload (its gradients, or nothing), the leader does the
 * operation's work (sum, cross-node all-reduce, …) and sends each follower the same reply bytes.
 * No Redis here: only leaders talk to Redis.
 *
 * All-reduce payloads go through shared memory when leader and follower see the same shared-memory
 * directory (shm-lane.ts; checked at hello with a probe file, else the socket carries them): the
 * frames then hold 16-byte descriptors, and the socket stays the control plane and the detector of
 * dead processes.
 *
 * When every rank of the node maps those files (the usual case) and the payload is not tiny, the
 * all-reduce is a reduce-scatter in shared memory, in two rounds on the socket:
 *  1. every follower writes its gradients into its file and sends a descriptor; the leader, which
 *     wrote its own into its file meanwhile, answers SCATTER: every rank's descriptor, the result
 *     file's, and the divisor;
 *  2. rank i of the node's G sums elements [i·n/G, (i+1)·n/G) of all G files, in rank order, into
 *     the leader's result file and says so (SLICE); once all have, the leader (after the
 *     cross-node step, if any, on the whole node sum) answers REPLY_SHM and every rank copies the
 *     mean out.
 * Element for element that is the same arithmetic in the same order as the leader summing alone
 * (sumInRankOrder on slices), so the same bits; but the G ranks sum at once, each 1/G of the work.
 * Otherwise (a follower on the socket or pread/pwrite, or `shmReduce: 'leader'`) the leader sums
 * every payload alone and replies with the mean.
 *
 * Failures are loud and fast: a follower whose connection closes (its process died) fails the
 * leader's pending and later operations naming that rank; a leader that dies fails every
 * follower naming it; a leader whose cross-node part fails sends its error to the followers
 * first, so they report the same cause. A silent peer fails the operation after its timeout.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFrames, writeFrame, type Frame } from './frame-socket.ts';
import { CollectiveTimeoutError } from './collective-timeout-error.ts';
import { NodeLocalError } from './node-local-error.ts';
import { DESCRIPTOR_BYTES, decodeDescriptor, ShmReader, ShmWriter, shmAccess, sweepShm } from './shm-lane.ts';
import { sumInRankOrder } from './sum-in-rank-order.ts';
import { float32Wire } from './wire-format.ts';

/** frame kinds: follower → leader */
const HELLO = 100;
/** frame kinds: leader → follower */
const REPLY = 200;
const FAIL = 201;
/** leader → follower after hello: payload "shm" or "socket", how all-reduce payloads travel */
const WELCOME = 202;
/** leader → follower: the reply is in the leader's shared-memory file (payload: a descriptor) */
const REPLY_SHM = 203;
/** leader → follower: sum your slice (payload: divisor, the result file's descriptor, every rank's) */
const SCATTER = 204;
/** operation codes (the kind of a follower's payload frame); `slice`: a follower has summed its slice */
export const LOCAL_OP = { 'all-reduce': 1, broadcast: 2, barrier: 3, slice: 4 } as const;
/** all-reduces of fewer floats than this are summed by the leader alone (a second round costs more than it saves) */
export const SCATTER_MIN = 1 << 16;

/** rank i's slice [lo, hi) of n elements shared among G ranks (whole 64-byte lines, so no two ranks write one) */
export function sliceOf(n: number, G: number, i: number): [number, number] {
  const chunk = Math.ceil(n / G / 16) * 16;
  const lo = Math.min(n, i * chunk);
  return [lo, Math.min(n, lo + chunk)];
}
export type LocalOpName = keyof typeof LOCAL_OP;

const CONNECT_RETRY_MS = 50;

export interface NodeLocalGroupOptions {
  /** Unix socket path, the same for every rank of this node and this gang (≤ 107 bytes) */
  socketPath: string;
  /** global ranks on this node, ascending: members[0] leads */
  members: readonly number[];
  rank: number;
  nodeName: string;
  /** ms to assemble the group, and ms the leader waits for followers in one operation */
  timeoutMs: number;
  /**
   * path prefix of this group's shared-memory files (e.g. /dev/shm/cim-<run+node>-<generation>);
   * undefined: all payloads on the socket
   */
  shmBase?: string;
  /** path prefix shared by every generation of this run on this node: the leader removes the older ones' files */
  shmRunPrefix?: string;
  /**
   * who sums when every rank maps the shared files: `scatter` (default: a reduce-scatter, each of the
   * G ranks sums 1/G of the elements) or `leader` (the leader sums everything; a benchmark's comparison)
   */
  shmReduce?: 'scatter' | 'leader';
}

export type PayloadLane = 'shm' | 'socket';

export class NodeLocalGroup {
  readonly isLeader: boolean;
  readonly leader: number;
  /** follower rank → its socket (leader only) */
  private readonly peers = new Map<number, Socket>();
  /** seq → rank → frame, frames not yet consumed */
  private readonly inbox = new Map<number, Map<number, Frame>>();
  private lost: Error | undefined;
  private wake: (() => void) | undefined;
  private server: Server | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  /** how each follower's all-reduce payloads travel (leader: per follower; follower: its own under its rank) */
  private readonly lanes = new Map<number, PayloadLane>();
  /** shared-memory readers of the other ranks' gradient files */
  private readonly readers = new Map<number, ShmReader>();
  /** this rank's gradient file (a follower's always; the leader's for a reduce-scatter) */
  private writer: ShmWriter | undefined;
  /** the node's mean: the leader's result file (leader), its reader (follower) */
  private meanWriter: ShmWriter | undefined;
  private meanReader: ShmReader | undefined;
  /** all-reduces done as a reduce-scatter in shared memory, and by the leader alone (for tests and benchmarks) */
  readonly reduced = { scatter: 0, leader: 0 };
  /** leader: the followers' payloads of the operation being reduced (their descriptors, on shared memory) */
  private gathered: Buffer[] = [];
  private leaderGone = false;

  private constructor(private readonly o: NodeLocalGroupOptions) {
    this.leader = o.members[0];
    this.isLeader = o.rank === this.leader;
  }

  get where(): string {
    return `node "${this.o.nodeName}"`;
  }

  /** The leader: listens, and resolves once every follower has said hello. */
  static async lead(o: NodeLocalGroupOptions): Promise<NodeLocalGroup> {
    const g = new NodeLocalGroup(o);
    const expected = new Set(o.members.slice(1));
    rmSync(o.socketPath, { force: true }); // a dead gang's socket file
    if (o.shmBase) sweepShm(o.shmBase, o.shmRunPrefix); // files of dead generations of this run
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = [...expected].filter((r) => !g.peers.has(r));
        done(
          new CollectiveTimeoutError(
            `node-local group on ${g.where} timed out after ${o.timeoutMs} ms: rank(s) ` +
              `${missing.join(', ')} never connected to the node leader (rank ${o.rank})`,
            'node-local rendezvous',
            o.timeoutMs,
            missing,
          ),
        );
      }, o.timeoutMs);
      const done = (e?: Error) => {
        clearTimeout(timer);
        if (e) {
          void g.close();
          reject(e);
        } else resolve();
      };
      g.server = createServer((socket) => {
        let rank: number | undefined;
        readFrames(socket, (f) => {
          if (rank === undefined) {
            if (f.kind !== HELLO || !expected.has(f.from) || g.peers.has(f.from)) {
              socket.destroy();
              return;
            }
            rank = f.from;
            g.peers.set(rank, socket);
            const lane = g.probe(rank, f.payload);
            g.lanes.set(rank, lane);
            writeFrame(socket, { seq: 0, kind: WELCOME, from: o.rank, payload: Buffer.from(lane, 'utf8') });
            if (g.peers.size === expected.size) done();
            return;
          }
          g.deliver(rank, f);
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          if (rank === undefined || g.closing) return;
          g.fail(
            new NodeLocalError(
              `rank ${rank} left the node-local group on ${g.where}: its connection to the node leader (rank ${g.leader}) closed (the process died?)`,
              [rank],
            ),
          );
        });
      });
      // a deployment fault (the socket directory missing or not writable), not the run's
      g.server.on('error', (e) =>
        done(new NodeLocalError(`node leader rank ${o.rank} cannot listen on ${o.socketPath}: ${e.message}`, [])),
      );
      g.server.listen(o.socketPath, () => {
        if (!expected.size) done();
      });
    });
    return g;
  }

  /** A follower: connects to the leader's socket (retrying until it exists) and says hello. */
  static async follow(o: NodeLocalGroupOptions): Promise<NodeLocalGroup> {
    const g = new NodeLocalGroup(o);
    const deadline = Date.now() + o.timeoutMs;
    let socket: Socket | undefined;
    let last = '';
    while (!socket) {
      try {
        socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(o.socketPath, () => resolve(s));
          s.once('error', reject);
        });
      } catch (e) {
        last = (e as Error).message;
        if (Date.now() > deadline) {
          throw new CollectiveTimeoutError(
            `node-local group on ${g.where}: rank ${o.rank} could not reach the node leader ` +
              `(rank ${g.leader}) at ${o.socketPath} within ${o.timeoutMs} ms (${last})`,
            'node-local rendezvous',
            o.timeoutMs,
            [g.leader],
          );
        }
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
      }
    }
    g.peers.set(g.leader, socket);
    readFrames(socket, (f) => g.deliver(g.leader, f));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!g.closing)
        g.fail(
          new NodeLocalError(`the node leader (rank ${g.leader}) on ${g.where} is gone: its connection closed (the process died?)`, [
            g.leader,
          ]),
        );
    });
    socket.on('close', () => {
      if (!g.closing) g.leaderGone = true;
    });
    // the probe: a file the leader must find with this token in it to use shared memory
    let token = Buffer.alloc(0);
    if (o.shmBase) {
      token = Buffer.from(`rank ${o.rank} pid ${process.pid} ${Math.random()}`, 'utf8');
      try {
        writeFileSync(`${o.shmBase}-r${o.rank}.hello`, token, { mode: 0o600 });
      } catch {
        token = Buffer.alloc(0); // no shared-memory directory here: the socket carries the payloads
      }
    }
    writeFrame(socket, { seq: 0, kind: HELLO, from: o.rank, payload: token });
    try {
      const [welcome] = await g.await(0, [g.leader], o.timeoutMs, 'node-local hello');
      if (welcome.kind !== WELCOME) throw new Error(`node-local hello: unexpected frame kind ${welcome.kind} from the node leader`);
      g.lanes.set(o.rank, welcome.payload.toString('utf8') === 'shm' ? 'shm' : 'socket');
    } catch (e) {
      await g.close();
      throw e;
    } finally {
      if (o.shmBase) rmSync(`${o.shmBase}-r${o.rank}.hello`, { force: true });
    }
    return g;
  }

  /** how this follower's all-reduce payloads travel (follower), or follower `rank`'s (leader) */
  lane(rank = this.o.rank): PayloadLane {
    return this.lanes.get(rank) ?? 'socket';
  }

  /** Leader: shared memory for a follower whose probe file it can read with the token the hello carried. */
  private probe(rank: number, token: Buffer): PayloadLane {
    if (!this.o.shmBase || !token.length) return 'socket';
    const path = `${this.o.shmBase}-r${rank}.hello`;
    try {
      return readFileSync(path).equals(token) ? 'shm' : 'socket';
    } catch {
      return 'socket'; // another /dev/shm (another pod without a shared mount): the socket
    } finally {
      rmSync(path, { force: true });
    }
  }

  /**
   * Follower: all-reduce payload `data` for operation `seq` → the leader's reply as floats, in
   * `out` when given (may be `data`), else in a fresh array; through shared memory when this
   * follower's lane is "shm".
   */
  async exchangeFloats(seq: number, data: Float32Array, timeoutMs: number, out?: Float32Array): Promise<Float32Array> {
    if (this.lane() === 'socket') {
      const mean = float32Wire.decode(await this.exchange(seq, 'all-reduce', float32Wire.encode(data), timeoutMs));
      this.reduced.leader++;
      if (mean.length !== data.length)
        throw new Error(`all-reduce ${seq}: the node leader sent ${mean.length} values, expected ${data.length}`);
      if (!out) return mean;
      out.set(mean);
      return out;
    }
    this.throwIfLost();
    this.writer ??= new ShmWriter(this.o.shmBase!, this.o.rank);
    this.writer.write(data);
    let reply = await this.exchangeFrame(seq, 'all-reduce', this.writer.descriptor(data.length), timeoutMs);
    if (reply.kind === SCATTER) {
      this.sumSlice(seq, reply.payload, data.length);
      this.reduced.scatter++;
      reply = await this.exchangeFrame(seq, 'slice', new Uint8Array(0), timeoutMs, 'all-reduce');
    } else this.reduced.leader++;
    if (reply.kind !== REPLY_SHM) throw new Error(`all-reduce ${seq}: unexpected frame kind ${reply.kind} from the node leader`);
    const reader = (this.meanReader ??= new ShmReader(`${this.o.shmBase!}-mean`, this.leader));
    const d = decodeDescriptor(reply.payload);
    if (d.bytes !== data.byteLength)
      throw new Error(`all-reduce ${seq}: the node leader's mean has ${d.bytes} bytes, expected ${data.byteLength}`);
    if (out) return reader.floats(d, out);
    const mean = reader.floats(d);
    return shmAccess === 'mmap' ? mean.slice() : mean;
  }

  /**
   * Leader, before gathering: when this all-reduce of n floats can be a reduce-scatter (every
   * follower on shared memory, this process mapping, n ≥ SCATTER_MIN), `data` copied into this
   * rank's own shared pages, which are returned; else undefined (the leader will sum alone).
   */
  stageInput(data: Float32Array): Float32Array | undefined {
    const followers = this.o.members.slice(1);
    if (this.o.shmReduce === 'leader' || shmAccess !== 'mmap' || !this.o.shmBase || data.length < SCATTER_MIN) return undefined;
    if (!followers.every((r) => this.lane(r) === 'shm')) return undefined;
    this.writer ??= new ShmWriter(this.o.shmBase, this.o.rank);
    this.writer.write(data);
    return this.writer.floats(data.length);
  }

  /**
   * Leader: every follower's all-reduce floats for operation `seq`, in member order (views of
   * their shared pages, valid until this operation's reply, or copies); each must hold n values.
   * `scatter`: whether the reduce-scatter is on — `staged` (stageInput's answer) and every
   * follower maps its file; then the names stay until every rank has its slice (gatherSlices).
   */
  async gatherFloats(seq: number, n: number, staged = false): Promise<{ parts: Float32Array[]; scatter: boolean }> {
    const followers = this.o.members.slice(1);
    const payloads = await this.gather(seq, 'all-reduce');
    this.gathered = payloads;
    // every follower has read the previous mean (it sent this operation): the name can go
    this.meanWriter?.unlink();
    let scatter = staged;
    const parts = payloads.map((p, i) => {
      const r = followers[i];
      const shm = this.lane(r) === 'shm';
      const d = shm ? decodeDescriptor(p) : undefined;
      const got = d ? d.bytes / 4 : p.length / 4;
      if (got !== n)
        throw new Error(
          `all-reduce ${seq}: rank ${r} all-reduces ${got} elements, rank ${this.o.rank} has ${n}: every rank must pass an array of the same length`,
        );
      scatter &&= d?.mapped === true;
      if (!d) return float32Wire.decode(p);
      return this.inputReader(r).floats(d);
    });
    // summing alone, this leader is the files' only reader, and it has them open
    if (!scatter) for (const r of followers) if (this.lane(r) === 'shm') this.readers.get(r)?.unlink();
    if (scatter) this.reduced.scatter++;
    else this.reduced.leader++;
    return { parts, scatter };
  }

  /**
   * Leader, reduce-scatter: tells every follower to sum its slice of `parts` (every rank's floats in
   * member order, parts[0] this leader's staged pages) into the result file, sums slice 0 itself
   * there, and returns the result pages (valid until the next operation); then call gatherSlices.
   */
  scatter(seq: number, parts: Float32Array[], divisor: number): Float32Array {
    this.throwIfLost();
    const n = parts[0].length;
    const mean = this.resultFloats(n);
    const payload = Buffer.alloc(8 + DESCRIPTOR_BYTES * (1 + parts.length));
    payload.writeDoubleLE(divisor, 0);
    this.meanWriter!.descriptor(n).copy(payload, 8);
    this.writer!.descriptor(n).copy(payload, 8 + DESCRIPTOR_BYTES);
    this.gathered.forEach((d, i) => d.copy(payload, 8 + DESCRIPTOR_BYTES * (2 + i)));
    for (const s of this.peers.values()) writeFrame(s, { seq, kind: SCATTER, from: this.o.rank, payload });
    const [lo, hi] = sliceOf(n, parts.length, 0);
    sumInRankOrder(
      parts.map((p) => p.subarray(lo, hi)),
      mean.subarray(lo, hi),
      divisor,
    );
    return mean;
  }

  /** Leader, reduce-scatter: waits until every follower has summed its slice; then no file needs its name */
  async gatherSlices(seq: number): Promise<void> {
    await this.gather(seq, 'slice');
    this.writer?.unlink();
    this.meanWriter?.unlink();
    for (const reader of this.readers.values()) reader.unlink();
  }

  /**
   * Leader: where to compute the mean that goes back to the followers: the shared pages they read
   * (mmap, some follower on shared memory), else `out` or a fresh array.
   */
  resultFloats(n: number, out?: Float32Array): Float32Array {
    if (shmAccess === 'mmap' && [...this.lanes.values()].includes('shm')) {
      this.meanWriter ??= new ShmWriter(`${this.o.shmBase!}-mean`, this.o.rank);
      return this.meanWriter.floats(n)!;
    }
    return out ?? new Float32Array(n);
  }

  /** the reader of rank r's gradient file */
  private inputReader(r: number): ShmReader {
    let reader = this.readers.get(r);
    if (!reader) this.readers.set(r, (reader = new ShmReader(this.o.shmBase!, r)));
    return reader;
  }

  /**
   * Follower, reduce-scatter: sums this rank's slice of every rank's file (the SCATTER payload
   * names them) into the leader's result file.
   */
  private sumSlice(seq: number, payload: Buffer, n: number): void {
    const G = this.o.members.length;
    if (payload.length !== 8 + DESCRIPTOR_BYTES * (1 + G))
      throw new Error(`all-reduce ${seq}: a reduce-scatter frame of ${payload.length} bytes for ${G} ranks`);
    const descriptor = (k: number) => {
      const d = decodeDescriptor(payload.subarray(8 + DESCRIPTOR_BYTES * k, 8 + DESCRIPTOR_BYTES * (k + 1)));
      if (d.bytes !== n * 4)
        throw new Error(`all-reduce ${seq}: a shared-memory file of ${d.bytes} bytes in a reduce-scatter of ${n} floats`);
      return d;
    };
    const mean = (this.meanReader ??= new ShmReader(`${this.o.shmBase!}-mean`, this.leader)).floats(descriptor(0));
    const parts = this.o.members.map((r, i) =>
      r === this.o.rank ? this.writer!.floats(n)! : this.inputReader(r).floats(descriptor(1 + i)),
    );
    const [lo, hi] = sliceOf(n, G, this.o.members.indexOf(this.o.rank));
    sumInRankOrder(
      parts.map((p) => p.subarray(lo, hi)),
      mean.subarray(lo, hi),
      payload.readDoubleLE(0),
    );
  }

  /** Leader: the mean to every follower (a descriptor of the shared file, or the bytes on the socket). */
  replyFloats(seq: number, mean: Float32Array): void {
    this.throwIfLost();
    let descriptor: Buffer | undefined;
    for (const [r, s] of this.peers) {
      if (this.lane(r) === 'shm') {
        if (!descriptor) {
          this.meanWriter ??= new ShmWriter(`${this.o.shmBase!}-mean`, this.o.rank);
          if (!this.meanWriter.owns(mean)) this.meanWriter.write(mean);
          descriptor = this.meanWriter.descriptor(mean.length);
        }
        writeFrame(s, { seq, kind: REPLY_SHM, from: this.o.rank, payload: descriptor });
      } else writeFrame(s, { seq, kind: REPLY, from: this.o.rank, payload: float32Wire.encode(mean) });
    }
  }

  /** whether `a` lies in this rank's shared pages (the caller keeps a copy, they are reused) */
  isShared(a: Float32Array): boolean {
    return this.meanWriter?.owns(a) ?? false;
  }

  /** Follower: sends `payload` for operation `seq` and resolves with the leader's reply. */
  async exchange(seq: number, op: LocalOpName, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    const reply = await this.exchangeFrame(seq, op, payload, timeoutMs);
    if (reply.kind !== REPLY) throw new Error(`${op} ${seq}: unexpected frame kind ${reply.kind} from the node leader`);
    return reply.payload;
  }

  /** `label`: the operation the user started (a `slice` frame is the second round of an all-reduce) */
  private async exchangeFrame(seq: number, op: LocalOpName, payload: Uint8Array, timeoutMs: number, label: string = op): Promise<Frame> {
    this.throwIfLost();
    writeFrame(this.peers.get(this.leader)!, { seq, kind: LOCAL_OP[op], from: this.o.rank, payload });
    const [reply] = await this.await(seq, [this.leader], timeoutMs, `${label} ${seq}`);
    if (reply.kind === FAIL)
      throw new NodeLocalError(
        `the node leader (rank ${this.leader}) on ${this.where} failed ${label} ${seq}: ${reply.payload.toString('utf8')}`,
        [],
      );
    return reply;
  }

  /** Leader: every follower's payload for operation `seq`, in member order. */
  async gather(seq: number, op: LocalOpName): Promise<Buffer[]> {
    const followers = this.o.members.slice(1);
    // a `slice` is the second round of an all-reduce: errors name the operation the user started
    const label = op === 'slice' ? 'all-reduce' : op;
    const frames = await this.await(seq, followers, this.o.timeoutMs, `${label} ${seq}`);
    frames.forEach((f, i) => {
      if (f.kind !== LOCAL_OP[op])
        throw new Error(
          `node-local ${label} ${seq} on ${this.where}: rank ${followers[i]} is at another operation (kind ${f.kind}): out of step`,
        );
    });
    return frames.map((f) => f.payload);
  }

  /** Leader: the same reply bytes to every follower. */
  reply(seq: number, payload: Uint8Array): void {
    this.throwIfLost();
    for (const s of this.peers.values()) writeFrame(s, { seq, kind: REPLY, from: this.o.rank, payload });
  }

  /** Leader: tell every follower that operation `seq` failed, and why. */
  abort(seq: number, message: string): void {
    for (const s of this.peers.values())
      if (!s.destroyed) writeFrame(s, { seq, kind: FAIL, from: this.o.rank, payload: Buffer.from(message, 'utf8') });
  }

  /**
   * Closes the sockets (and the leader's socket file) once what was written to them is flushed:
   * a leader's last reply must reach its followers even if its process exits right after (at
   * most `timeoutMs`, then the sockets are destroyed). Idempotent.
   */
  close(): Promise<void> {
    return (this.closed ??= (async () => {
      this.closing = true;
      this.fail(new Error(`the node-local group on ${this.where} is closed`));
      if (this.server) {
        this.server.close();
        rmSync(this.o.socketPath, { force: true });
      }
      this.writer?.close();
      this.meanWriter?.close();
      this.meanReader?.close();
      for (const r of this.readers.values()) r.close();
      // the leader removes every file of the group (a follower killed mid-exchange leaves its
      // own); a follower whose leader died removes the leader's
      if (this.o.shmBase && (this.isLeader || this.leaderGone)) sweepShm(this.o.shmBase);
      const sockets = [...this.peers.values()];
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(
          sockets.map((s) =>
            s.destroyed
              ? undefined
              : new Promise<void>((resolve) => {
                  s.once('close', () => resolve());
                  s.end();
                }),
          ),
        ),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.o.timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
    })());
  }

  private deliver(from: number, f: Frame): void {
    let bySender = this.inbox.get(f.seq);
    if (!bySender) this.inbox.set(f.seq, (bySender = new Map()));
    bySender.set(from, f);
    this.wake?.();
  }

  private fail(e: Error): void {
    this.lost ??= e;
    this.wake?.();
  }

  private throwIfLost(): void {
    if (this.lost) throw this.lost;
  }

  /** Frames of operation `seq` from each of `from`, in that order (removed from the inbox). */
  private await(seq: number, from: readonly number[], timeoutMs: number, what: string): Promise<Frame[]> {
    return new Promise<Frame[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        const got = this.inbox.get(seq);
        const missing = from.filter((r) => !got?.has(r));
        this.wake = undefined;
        reject(
          new CollectiveTimeoutError(
            `node-local ${what} on ${this.where} timed out after ${timeoutMs} ms waiting for rank(s) ${missing.join(', ')}`,
            what,
            timeoutMs,
            missing,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const got = this.inbox.get(seq);
        // a FAIL from the leader may come before (or instead of) the rest
        if (got && from.every((r) => got.has(r))) {
          this.inbox.delete(seq);
          this.wake = undefined;
          clearTimeout(timer);
          resolve(from.map((r) => got.get(r)!));
        } else if (this.lost) {
          this.wake = undefined;
          clearTimeout(timer);
          reject(this.lost);
        }
      };
      this.wake = check;
      check();
    });
  }
}
