/**
 * The ranks of one node, joined by a Unix socket: the node leader (the node's lowest rank)
 * listens, every other rank (a follower) connects. Each collective operation is one exchange:
 * every follower sends the leader its payload (its gradients, or nothing), the leader does the
 * operation's work (sum, cross-node all-reduce, …) and sends each follower the same reply bytes.
 * No Redis here: only leaders talk to Redis.
 *
 * Failures are loud and fast: a follower whose connection closes (its process died) fails the
 * leader's pending and later operations naming that rank; a leader that dies fails every
 * follower naming it; a leader whose cross-node part fails sends its error to the followers
 * first, so they report the same cause. A silent peer fails the operation after its timeout.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { readFrames, writeFrame, type Frame } from './frame-socket.ts';
import { CollectiveTimeoutError } from './collective-timeout-error.ts';
import { NodeLocalError } from './node-local-error.ts';

/** frame kinds: follower → leader */
const HELLO = 100;
/** frame kinds: leader → follower */
const REPLY = 200;
const FAIL = 201;
/** operation codes (the kind of a follower's payload frame) */
export const LOCAL_OP = { 'all-reduce': 1, broadcast: 2, barrier: 3 } as const;
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
}

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
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = [...expected].filter((r) => !g.peers.has(r));
        done(
          new CollectiveTimeoutError(
            `node-local group on ${g.where} timed out after ${o.timeoutMs} ms: rank(s) ${missing.join(', ')} never connected to the node leader (rank ${o.rank})`,
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
            `node-local group on ${g.where}: rank ${o.rank} could not reach the node leader (rank ${g.leader}) at ${o.socketPath} within ${o.timeoutMs} ms (${last})`,
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
    writeFrame(socket, { seq: 0, kind: HELLO, from: o.rank });
    return g;
  }

  /** Follower: sends `payload` for operation `seq` and resolves with the leader's reply. */
  async exchange(seq: number, op: LocalOpName, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    this.throwIfLost();
    writeFrame(this.peers.get(this.leader)!, { seq, kind: LOCAL_OP[op], from: this.o.rank, payload });
    const [reply] = await this.await(seq, [this.leader], timeoutMs, `${op} ${seq}`);
    if (reply.kind === FAIL)
      throw new NodeLocalError(
        `the node leader (rank ${this.leader}) on ${this.where} failed ${op} ${seq}: ${reply.payload.toString('utf8')}`,
        [],
      );
    if (reply.kind !== REPLY) throw new Error(`${op} ${seq}: unexpected frame kind ${reply.kind} from the node leader`);
    return reply.payload;
  }

  /** Leader: every follower's payload for operation `seq`, in member order. */
  async gather(seq: number, op: LocalOpName): Promise<Buffer[]> {
    const followers = this.o.members.slice(1);
    const frames = await this.await(seq, followers, this.o.timeoutMs, `${op} ${seq}`);
    frames.forEach((f, i) => {
      if (f.kind !== LOCAL_OP[op])
        throw new Error(
          `node-local ${op} ${seq} on ${this.where}: rank ${followers[i]} is at another operation (kind ${f.kind}): out of step`,
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
