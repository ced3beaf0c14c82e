/**
 * Two-level all-reduce for gangs that span nodes with several ranks each (GPU pods on one host):
 *  1. every rank hands its gradients to its node's leader over a Unix socket (NodeLocalGroup);
 *     the leader sums them in rank order (float32);
 *  2. the leaders alone all-reduce the node sums through Redis (ShardedCollective over K
 *     servers; sums in node order, optionally a 16-bit wire), or with `gloo`, through Gloo
 *     (GlooCollective among the leaders: float32, Gloo's sum order, Redis for the rendezvous only);
 *  3. the leader divides by worldSize and sends the same bytes back to its followers.
 * So Redis carries M node sums instead of N rank gradients, and every rank of the gang holds the
 * same bits (every leader gets the same cross-node result; the followers get their leader's).
 * Summation order is fixed: ((r0 + r1 + …) of node 0) + ((…) of node 1) + …, by rank and node.
 *
 * Who shares a node is found at join: all N ranks rendezvous once on shard 0 and gather their
 * node names (then the followers' Redis connections close). Nodes are ordered by their lowest
 * rank, so rank 0 leads node 0 and is the broadcast root. Keys of the cross-node gang live under
 * `${runId}:${generation}:nodes`, so a restarted gang never meets a dead one's keys or socket.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GangCollective } from './gang-collective.ts';
import { GlooCollective, type GlooCollectiveOptions } from './gloo-collective.ts';
import { checkOut } from './into-buffer.ts';
import { checkCanStart } from './op-guard.ts';
import { NodeLocalGroup, type LocalOpName } from './node-local-group.ts';
import { RedisCollective } from './redis-collective.ts';
import type { RedisCollectiveOptions } from './redis-collective-options.ts';
import { ShardedCollective } from './sharded-collective.ts';
import { defaultShmDir } from './shm-lane.ts';
import { sumInRankOrder } from './sum-in-rank-order.ts';

export interface NodeLocalCollectiveOptions extends Omit<RedisCollectiveOptions, 'redisUrl' | 'memberNames'> {
  /** the K gradient Redis servers, the same list in the same order on every rank */
  redisUrls: readonly string[];
  /** this rank's node (Kubernetes: spec.nodeName); ranks with the same name reduce locally first */
  nodeName: string;
  /** directory of the node's Unix sockets, shared by the ranks of a node (default os.tmpdir()) */
  socketDir?: string;
  /**
   * directory of the node's shared-memory files, a tmpfs the ranks of a node share (default
   * /dev/shm; pods need a shared mount); "none": gradients go through the sockets
   */
  shmDir?: string;
  /**
   * who sums inside the node when every rank maps the shared files: `scatter` (default) — each of
   * the node's G ranks sums 1/G of the elements (a reduce-scatter in shared memory) — or `leader`
   */
  shmReduce?: 'scatter' | 'leader';
  /** the leaders' cross-node hop over Gloo instead of Redis Streams (default: Redis) */
  gloo?: Pick<GlooCollectiveOptions, 'host' | 'algorithm'>;
}

/** what the leaders' cross-node gang offers: ShardedCollective (Redis) or GlooCollective */
type CrossNodeCollective = Pick<GangCollective, 'broadcast' | 'barrier' | 'close'> & {
  allReduceSum(data: Float32Array): Promise<Float32Array>;
};

/** Which ranks share which node: the same on every rank. */
export interface NodeTopology {
  /** node names, ordered by their lowest rank */
  nodes: string[];
  /** ranks of each node, ascending (leader first) */
  members: number[][];
}

export function nodeTopology(nodeOfRank: readonly string[]): NodeTopology {
  const nodes: string[] = [];
  const members: number[][] = [];
  nodeOfRank.forEach((name, r) => {
    let i = nodes.indexOf(name);
    if (i < 0) {
      i = nodes.push(name) - 1;
      members.push([]);
    }
    members[i].push(r);
  });
  return { nodes, members };
}

export class NodeLocalCollective implements GangCollective {
  readonly rank: number;
  readonly worldSize: number;
  /** this rank's node index (0 … M−1) */
  readonly node: number;
  private seq = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;
  private nodeSum: Float32Array | undefined;

  private constructor(
    readonly topology: NodeTopology,
    private readonly local: NodeLocalGroup | undefined,
    /** the leaders' cross-node gang (leaders only, and only when M > 1) */
    private readonly cross: CrossNodeCollective | undefined,
    o: NodeLocalCollectiveOptions,
    private readonly timeoutMs: number,
  ) {
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.node = topology.nodes.indexOf(o.nodeName);
  }

  get isLeader(): boolean {
    return this.topology.members[this.node][0] === this.rank;
  }

  /** what carries this rank's cross-node hop: Gloo, Redis, or nothing (a follower, or a single node) */
  get crossNodeTransport(): 'gloo' | 'redis' | 'none' {
    return !this.cross ? 'none' : this.cross instanceof GlooCollective ? 'gloo' : 'redis';
  }

  /** how this node's all-reduce payloads travel: shared memory, the Unix socket, or nowhere (alone on its node) */
  get nodeLocalLane(): 'shm' | 'socket' | 'none' {
    if (!this.local) return 'none';
    if (!this.isLeader) return this.local.lane();
    const members = this.topology.members[this.node];
    return members.every((r) => r === members[0] || this.local!.lane(r) === 'shm') ? 'shm' : 'socket';
  }

  /** this rank's all-reduces so far that the node summed as a reduce-scatter, and that its leader summed alone */
  get nodeLocalReductions(): { scatter: number; leader: number } {
    return { ...(this.local?.reduced ?? { scatter: 0, leader: 0 }) };
  }

  static async join(o: NodeLocalCollectiveOptions): Promise<NodeLocalCollective> {
    if (!o.nodeName) throw new Error('NodeLocalCollective: nodeName must be a non-empty string');
    const timeoutMs = o.timeoutMs ?? 60_000;
    // 1. every rank once on shard 0: the rendezvous, and who is on which node
    const world = await RedisCollective.join({ ...o, redisUrl: o.redisUrls[0] });
    let names: string[];
    try {
      names = (await world.gatherSmall(Buffer.from(o.nodeName, 'utf8'))).map((b) => Buffer.from(b).toString('utf8'));
    } finally {
      await world.close();
    }
    const topology = nodeTopology(names);
    const node = topology.nodes.indexOf(o.nodeName);
    const members = topology.members[node];
    const leaders = topology.members.map((m) => m[0]);
    const M = topology.nodes.length;
    const memberNames = topology.nodes.map((n, i) => `node ${i} "${n}" (leader rank ${leaders[i]})`);
    const id = createHash('sha256')
      .update(`${o.keyPrefix ?? 'cim'}\n${o.runId}\n${world.generation}\n${o.nodeName}`)
      .digest('hex')
      .slice(0, 20);
    const runNode = createHash('sha256')
      .update(`${o.keyPrefix ?? 'cim'}\n${o.runId}\n${o.nodeName}`)
      .digest('hex')
      .slice(0, 16);
    const shmDir = o.shmDir ?? defaultShmDir();
    const shmRunPrefix = shmDir === 'none' ? undefined : join(shmDir, `cim-${runNode}-`);
    const localOptions = {
      socketPath: join(o.socketDir ?? tmpdir(), `cim-${id}.sock`),
      shmBase: shmRunPrefix && `${shmRunPrefix}${id.slice(0, 12)}`,
      shmRunPrefix,
      shmReduce: o.shmReduce,
      members,
      rank: o.rank,
      nodeName: o.nodeName,
      timeoutMs: o.rendezvousTimeoutMs ?? timeoutMs,
    };
    const isLeader = members[0] === o.rank;
    if (!isLeader) {
      const local = await NodeLocalGroup.follow(localOptions);
      return new NodeLocalCollective(topology, local, undefined, o, timeoutMs);
    }
    // 2. the leader: its followers and the other leaders, at once
    const [local, cross] = await Promise.allSettled([
      members.length > 1 ? NodeLocalGroup.lead(localOptions) : Promise.resolve(undefined),
      M <= 1
        ? Promise.resolve(undefined)
        : o.gloo
          ? GlooCollective.join({
              ...o.gloo,
              redisUrl: o.redisUrls[0],
              keyPrefix: o.keyPrefix,
              runId: `${o.runId}:nodes`,
              generation: world.generation,
              rank: node,
              worldSize: M,
              timeoutMs,
              memberNames,
            })
          : ShardedCollective.join({ ...o, runId: `${o.runId}:${world.generation}:nodes`, rank: node, worldSize: M, memberNames }),
    ]);
    if (local.status === 'rejected' || cross.status === 'rejected') {
      if (local.status === 'fulfilled') await local.value?.close();
      if (cross.status === 'fulfilled') await cross.value?.close();
      throw local.status === 'rejected' ? local.reason : (cross as PromiseRejectedResult).reason;
    }
    const local0 = local.value;
    // followers that joined before a cross-node failure are told by the closed socket
    return new NodeLocalCollective(topology, local0, cross.value, o, timeoutMs);
  }

  allReduceMean(data: Float32Array): Promise<Float32Array> {
    return this.run('all-reduce', (seq) => this.reduce(seq, data, undefined));
  }

  /**
   * The mean written into `out` (may be `data`: in place), which is returned: no result array is
   * allocated on any rank. The leader sums into the shared pages its followers read, then copies
   * the mean into its `out` while they copy it into theirs.
   */
  async allReduceMeanInto(data: Float32Array, out: Float32Array): Promise<Float32Array> {
    checkOut(data, out); // a rejection, and the gang is not broken
    return this.run('all-reduce', (seq) => this.reduce(seq, data, out));
  }

  private async reduce(seq: number, data: Float32Array, out: Float32Array | undefined): Promise<Float32Array> {
    if (!this.isLeader) return this.local!.exchangeFloats(seq, data, this.followerTimeout, out);
    // every rank of the node in shared memory: a reduce-scatter there (node-local-group.ts); this
    // rank's gradients go into its own file first, while the followers write theirs
    const staged = this.local?.stageInput(data);
    const gathered = this.local ? await this.local.gatherFloats(seq, data.length, staged !== undefined) : undefined;
    const parts = [staged ?? data, ...(gathered?.parts ?? [])];
    let mean: Float32Array;
    if (gathered?.scatter) {
      // each rank sums its slice in rank order: the node sum, or with one node the mean (÷ fused)
      mean = this.local!.scatter(seq, parts, this.cross ? 1 : this.worldSize);
      await this.local!.gatherSlices(seq);
      if (this.cross) sumInRankOrder([await this.cross.allReduceSum(mean)], mean, this.worldSize);
      return this.replyAndCopy(seq, mean, out);
    }
    // node sum in rank order, then the nodes' sums in node order, then ÷ N; the mean goes
    // straight into the pages the followers read when they share memory with this leader, else
    // into `out` (sumInRankOrder allows out = parts[0] = data)
    mean = this.local ? this.local.resultFloats(data.length, out) : (out ?? new Float32Array(data.length));
    if (this.cross) {
      const nodeSum = parts.length === 1 ? data : sumInRankOrder(parts, this.scratch(data.length));
      sumInRankOrder([await this.cross.allReduceSum(nodeSum)], mean, this.worldSize);
    } else sumInRankOrder(parts, mean, this.worldSize); // one node: the ÷ fused into the last addition, same bits
    return this.replyAndCopy(seq, mean, out);
  }

  /** the mean to the followers, and this rank's copy of it (the shared pages are reused) */
  private replyAndCopy(seq: number, mean: Float32Array, out: Float32Array | undefined): Float32Array {
    this.local?.replyFloats(seq, mean);
    if (!this.local?.isShared(mean)) return mean;
    if (!out) return mean.slice();
    out.set(mean);
    return out;
  }

  /** the leader's node sum before the cross-node all-reduce: one array, reused */
  private scratch(n: number): Float32Array {
    if (this.nodeSum?.length !== n) this.nodeSum = new Float32Array(n);
    return this.nodeSum;
  }

  broadcast(data: Uint8Array): Promise<Uint8Array> {
    return this.run('broadcast', async (seq) => {
      if (!this.isLeader) return new Uint8Array(await this.local!.exchange(seq, 'broadcast', new Uint8Array(0), this.followerTimeout));
      await this.local?.gather(seq, 'broadcast');
      const bytes = this.cross ? await this.cross.broadcast(this.rank === 0 ? data : new Uint8Array(0)) : data;
      this.local?.reply(seq, bytes);
      return bytes;
    });
  }

  barrier(): Promise<void> {
    return this.run('barrier', async (seq) => {
      if (!this.isLeader) {
        await this.local!.exchange(seq, 'barrier', new Uint8Array(0), this.followerTimeout);
        return;
      }
      await this.local?.gather(seq, 'barrier');
      await this.cross?.barrier();
      this.local?.reply(seq, new Uint8Array(0));
    });
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.tail;
      await Promise.all([this.local?.close(), this.cross?.close()]);
    })());
  }

  toString(): string {
    return (
      `NodeLocalCollective(rank ${this.rank} of ${this.worldSize}, node ${this.node} ` +
      `"${this.topology.nodes[this.node]}"${this.isLeader ? ', leader' : ''})`
    );
  }

  /** a follower waits for the leader's local gather and its cross-node operation, then some */
  private get followerTimeout(): number {
    return 2 * this.timeoutMs + 5000;
  }

  private run<T>(kind: LocalOpName, body: (seq: number) => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      checkCanStart(String(this), kind, this.closing, this.broken);
      const seq = ++this.seq;
      try {
        return await body(seq);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.broken = err;
        if (this.isLeader) this.local?.abort(seq, err.message);
        throw err;
      }
    });
    this.tail = result.catch(() => {});
    return result;
  }
}
