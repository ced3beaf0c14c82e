import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalRedisServers, type LocalRedisServers } from './local-redis-servers.ts';
import { NodeLocalCollective, nodeTopology } from './node-local-collective.ts';
import { RedisCollective } from './redis-collective.ts';
import { ShardedCollective } from './sharded-collective.ts';
import { sumInRankOrder } from './sum-in-rank-order.ts';
import { CollectiveTimeoutError } from './collective-timeout-error.ts';
import { NodeLocalError } from './node-local-error.ts';
import { glooAvailable } from './gloo-collective.ts';
import { bitsOf, randomGradients } from './test-support.ts';

// two private redis-servers (the shards), started here and killed at the end
let servers: LocalRedisServers;
before(async () => {
  servers = await startLocalRedisServers(2);
});
after(() => servers.stop());

let run = 0;
const open: { close(): Promise<void> }[] = [];
after(() => Promise.all(open.map((c) => c.close())));
/** 2 nodes × 2 ranks, in this process (the sockets and Redis traffic are real) */
function joinCluster(
  nodeOfRank: string[],
  o: { wire?: 'float32' | 'bfloat16'; timeoutMs?: number; transport?: 'redis' | 'gloo' } = {},
): Promise<NodeLocalCollective[]> {
  const runId = `nl-${process.pid}-${++run}`;
  return Promise.all(
    nodeOfRank.map(async (nodeName, rank) => {
      const c = await NodeLocalCollective.join({
        redisUrls: servers.urls,
        runId,
        rank,
        worldSize: nodeOfRank.length,
        nodeName,
        wire: o.wire ?? 'float32',
        timeoutMs: o.timeoutMs ?? 10_000,
        bucketBytes: 64 * 1024,
        gloo: o.transport === 'gloo' ? {} : undefined,
      });
      open.push(c);
      return c;
    }),
  );
}

test('nodeTopology: nodes in order of their lowest rank, members ascending', () => {
  assert.deepEqual(nodeTopology(['b', 'a', 'b', 'a', 'c']), { nodes: ['b', 'a', 'c'], members: [[0, 2], [1, 3], [4]] });
});

for (const transport of ['redis', 'gloo'] as const) {
  const skip = transport === 'gloo' && !glooAvailable() && 'the Gloo addon is not built';
  // Gloo's sum of 2 node sums is a + b, commutative: the same bits as Redis's, in node order
  const over = transport === 'gloo' ? 'leaders over Gloo' : 'over 2 shards';
  test(`2 nodes × 2 ranks ${over}: the same bits on every rank, = ((g0 + g1) + (g2 + g3)) ÷ 4 exactly`, { skip }, async () => {
    const gang = await joinCluster(['n0', 'n0', 'n1', 'n1'], { transport });
    assert.deepEqual(
      gang.map((c) => c.isLeader),
      [true, false, true, false],
    );
    assert.deepEqual(
      gang.map((c) => c.crossNodeTransport),
      [transport, 'none', transport, 'none'],
    );
    const n = 100_003; // buckets of 16k elements, uneven slices over the shards
    const grads = gang.map((_, r) => randomGradients(n, 100 + r));
    for (let step = 0; step < 2; step++) {
      const out = await Promise.all(gang.map((c, r) => c.allReduceMean(grads[r])));
      const expected = sumInRankOrder(
        [sumInRankOrder([grads[0], grads[1]], new Float32Array(n)), sumInRankOrder([grads[2], grads[3]], new Float32Array(n))],
        new Float32Array(n),
        4,
      );
      for (const o of out) assert.ok(bitsOf(o).equals(bitsOf(expected)));
    }
    // both nodes reduced in /dev/shm as a reduce-scatter (each rank half the node sum), then across
    for (const c of gang) assert.deepEqual(c.nodeLocalReductions, { scatter: 2, leader: 0 });
    // broadcast from rank 0 (leader of node 0) and a barrier, through both levels
    const bytes = new Uint8Array([1, 2, 3, 250]);
    const got = await Promise.all(gang.map((c) => c.broadcast(c.rank === 0 ? bytes : new Uint8Array(0))));
    for (const g of got) assert.deepEqual([...g], [1, 2, 3, 250]);
    await Promise.all(gang.map((c) => c.barrier()));
    await Promise.all(gang.map((c) => c.close()));
    await Promise.all(gang.map((c) => c.close())); // idempotent
  });
}

test('bfloat16 cross-node wire: the same bits on every rank, within 2^-7 of the float32 sums', async () => {
  const gang = await joinCluster(['n0', 'n0', 'n1', 'n1'], { wire: 'bfloat16' });
  const n = 50_000;
  const grads = gang.map((_, r) => randomGradients(n, 200 + r));
  const out = await Promise.all(gang.map((c, r) => c.allReduceMean(grads[r])));
  for (const o of out) assert.ok(bitsOf(o).equals(bitsOf(out[0])));
  const p0 = sumInRankOrder([grads[0], grads[1]], new Float32Array(n));
  const p1 = sumInRankOrder([grads[2], grads[3]], new Float32Array(n));
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const exact = (p0[i] + p1[i]) / 4;
    const scale = (Math.abs(p0[i]) + Math.abs(p1[i])) / 4;
    if (scale > 0) worst = Math.max(worst, Math.abs(out[0][i] - exact) / scale);
  }
  // bfloat16's unit roundoff is 2^-8: each node sum rounded once, their float32 sum once more
  assert.ok(worst > 2 ** -10 && worst <= 2 ** -7, `worst error ${worst} of Σ|node sums|/N`);
  await Promise.all(gang.map((c) => c.close()));
});

test('sharding changes nothing: 2 shards give the bits of 1 (sums stay in rank order)', async () => {
  const runId = `sh-${process.pid}-${++run}`;
  const n = 70_001;
  const grads = [0, 1, 2].map((r) => randomGradients(n, 300 + r));
  const sharded = await Promise.all(
    grads.map((_, rank) => ShardedCollective.join({ redisUrls: servers.urls, runId, rank, worldSize: 3, bucketBytes: 32 * 1024 })),
  );
  const single = await Promise.all(
    grads.map((_, rank) =>
      RedisCollective.join({ redisUrl: servers.urls[0], runId: `${runId}-one`, rank, worldSize: 3, bucketBytes: 32 * 1024 }),
    ),
  );
  open.push(...sharded, ...single);
  const a = await Promise.all(sharded.map((c, r) => c.allReduceMean(grads[r])));
  const b = await Promise.all(single.map((c, r) => c.allReduceMean(grads[r])));
  for (let r = 0; r < 3; r++) assert.ok(bitsOf(a[r]).equals(bitsOf(b[0])));
  // each shard carried about half of the bytes
  assert.equal(sharded[0].shardCount, 2);
  await Promise.all([...sharded, ...single].map((c) => c.close()));
});

test('a follower that never comes to an all-reduce: its leader fails naming it, its peers hear why', async () => {
  const gang = await joinCluster(['n0', 'n0', 'n1', 'n1'], { timeoutMs: 1500 });
  const data = new Float32Array(1000).fill(1);
  // rank 3 stays away: its leader (rank 2) times out naming it and tells … no one else on its node;
  // the leader of node 0 times out in Redis naming node 1
  const r = await Promise.allSettled([gang[0].allReduceMean(data), gang[1].allReduceMean(data), gang[2].allReduceMean(data)]);
  const [e0, e1, e2] = r.map((x) => (x.status === 'rejected' ? (x.reason as Error) : undefined));
  assert.ok(e2 instanceof CollectiveTimeoutError);
  assert.match(e2.message, /^node-local all-reduce 1 on node "n1" timed out after 1500 ms waiting for rank\(s\) 3$/);
  assert.ok(e0 instanceof CollectiveTimeoutError, String(e0));
  assert.match(e0.message, /^all-reduce 1 timed out after 1500 ms waiting for node 1 "n1" \(leader rank 2\)/);
  assert.match(
    String(e1),
    /the node leader \(rank 0\) on node "n0" failed all-reduce 1: all-reduce 1 timed out .* node 1 "n1" \(leader rank 2\)/,
  );
  await Promise.all(gang.map((c) => c.close()));
});

test('a socket directory the leader cannot use: join fails with a NodeLocalError naming the path', async () => {
  const runId = `nl-${process.pid}-${++run}`;
  const joins = ['n0', 'n0'].map((nodeName, rank) =>
    NodeLocalCollective.join({
      redisUrls: servers.urls,
      runId,
      rank,
      worldSize: 2,
      nodeName,
      socketDir: '/nonexistent/cim-sockets',
      timeoutMs: 1500,
    }),
  );
  const [leader, follower] = await Promise.allSettled(joins);
  assert.equal(leader.status, 'rejected');
  const e = (leader as PromiseRejectedResult).reason as Error;
  assert.ok(e instanceof NodeLocalError, String(e));
  assert.match(
    e.message,
    /^node leader rank 0 cannot listen on \/nonexistent\/cim-sockets\/cim-[0-9a-f]{20}\.sock: listen (ENOENT|EACCES)/,
  );
  assert.match(
    String((follower as PromiseRejectedResult).reason),
    /rank 1 could not reach the node leader \(rank 0\) at \/nonexistent\/cim-sockets\/.* within 1500 ms/,
  );
});
