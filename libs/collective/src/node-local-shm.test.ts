import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { NodeLocalCollective } from './node-local-collective.ts';
import { SCATTER_MIN, sliceOf } from './node-local-group.ts';
import { shmAccess } from './shm-lane.ts';
import { sumInRankOrder, sumInRankOrderScalar } from './sum-in-rank-order.ts';
import { adminRedis, bitsOf, deleteKeysWithPrefix, randomGradients, testPrefix, TEST_REDIS_URL } from './test-support.ts';

// each test's shared-memory files go to a private directory under /dev/shm, so "nothing left" is checkable
const dirs: string[] = [];
const shmDir = () => {
  const d = mkdtempSync('/dev/shm/cimtest-');
  dirs.push(d);
  return d;
};
const admin = adminRedis();
const prefixes: string[] = [];
const open: NodeLocalCollective[] = [];
after(async () => {
  await Promise.all(open.map((c) => c.close())); // a failed test's gang, too
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const p of prefixes) await deleteKeysWithPrefix(admin, p);
  admin.disconnect();
});
const prefix = (name: string) => {
  const p = testPrefix(name);
  prefixes.push(p);
  return p;
};

function joinNode(ranks: number, dirOf: (rank: number) => string, name: string): Promise<NodeLocalCollective[]> {
  const keyPrefix = prefix(name);
  return Promise.all(
    Array.from({ length: ranks }, async (_, rank) => {
      const c = await NodeLocalCollective.join({
        redisUrls: [TEST_REDIS_URL],
        keyPrefix,
        runId: name,
        rank,
        worldSize: ranks,
        nodeName: 'n0',
        shmDir: dirOf(rank),
        timeoutMs: 10_000,
      });
      open.push(c);
      return c;
    }),
  );
}

test('1 node × 3 ranks through /dev/shm: the bits of (g0 + g1 + g2) ÷ 3 on every rank, growing and shrinking payloads, no names left', async () => {
  assert.equal(shmAccess, 'mmap', 'the cim_shm addon is built (npm ci runs scripts/native-shm.mjs)');
  const dir = shmDir();
  const gang = await joinNode(3, () => dir, 'shm3');
  assert.deepEqual(
    gang.map((c) => c.nodeLocalLane),
    ['shm', 'shm', 'shm'],
  );
  for (const [step, n] of [10_007, 10_007, 250_001, 3_000].entries()) {
    const grads = gang.map((_, r) => randomGradients(n, 10 * step + r));
    const out = await Promise.all(gang.map((c, r) => c.allReduceMean(grads[r])));
    const expected = sumInRankOrder(grads, new Float32Array(n), 3);
    for (const o of out) assert.ok(bitsOf(o).equals(bitsOf(expected)), `step ${step}: n=${n}`);
    // each rank got an array of its own (the shared pages are reused by the next operation)
    assert.notEqual(out[0].buffer, out[1].buffer);
    if (step >= 1)
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.endsWith('.shm') && !f.includes('-mean-r0-')),
        [],
        `step ${step}`,
      );
    // 250,001 floats: a reduce-scatter, after which no file has a name
    if (n >= SCATTER_MIN) assert.deepEqual(readdirSync(dir), [], `step ${step}`);
  }
  // below SCATTER_MIN the leader sums alone; at 250,001 the three ranks each summed a third
  for (const c of gang) assert.deepEqual(c.nodeLocalReductions, { scatter: 1, leader: 3 });
  await Promise.all(gang.map((c) => c.close()));
  assert.deepEqual(readdirSync(dir), []);
});

test('1 node × 8 ranks, reduce-scatter and the leader alone: the same bits, (g0 + … + g7) ÷ 8 in rank order', async () => {
  const n = 100_003; // slices of 12,512 floats, the last one shorter
  const grads = Array.from({ length: 8 }, (_, r) => randomGradients(n, 900 + r));
  const expected = sumInRankOrderScalar(grads, new Float32Array(n), 8);
  for (const shmReduce of ['scatter', 'leader'] as const) {
    const dir = shmDir();
    const keyPrefix = prefix(`shm8${shmReduce}`);
    const gang = await Promise.all(
      grads.map(async (_, rank) => {
        const c = await NodeLocalCollective.join({
          redisUrls: [TEST_REDIS_URL],
          keyPrefix,
          runId: `shm8${shmReduce}`,
          rank,
          worldSize: 8,
          nodeName: 'n0',
          shmDir: dir,
          shmReduce,
          timeoutMs: 10_000,
        });
        open.push(c);
        return c;
      }),
    );
    for (let step = 0; step < 2; step++) {
      const out = await Promise.all(gang.map((c, r) => c.allReduceMean(grads[r])));
      for (const [r, o] of out.entries()) assert.ok(bitsOf(o).equals(bitsOf(expected)), `${shmReduce}, step ${step}, rank ${r}`);
    }
    for (const c of gang)
      assert.deepEqual(c.nodeLocalReductions, shmReduce === 'scatter' ? { scatter: 2, leader: 0 } : { scatter: 0, leader: 2 });
    await Promise.all(gang.map((c) => c.close()));
    assert.deepEqual(readdirSync(dir), []);
  }
});

test('a follower that cannot see the leader’s shared-memory directory (another pod) falls back to the socket, same bits', async () => {
  const [a, b] = [shmDir(), shmDir()];
  const gang = await joinNode(3, (r) => (r === 2 ? b : a), 'shmmix');
  // the leader talks to rank 1 through /dev/shm and to rank 2 through the socket
  assert.deepEqual(
    gang.map((c) => c.nodeLocalLane),
    ['socket', 'shm', 'socket'],
  );
  const n = 20_011;
  const grads = gang.map((_, r) => randomGradients(n, 700 + r));
  const out = await Promise.all(gang.map((c, r) => c.allReduceMean(grads[r])));
  const expected = sumInRankOrder(grads, new Float32Array(n), 3);
  for (const o of out) assert.ok(bitsOf(o).equals(bitsOf(expected)));
  await Promise.all(gang.map((c) => c.close()));
  assert.deepEqual([...readdirSync(a), ...readdirSync(b)], []);
  // shmDir "none": sockets only
  const plain = await joinNode(2, () => 'none', 'shmnone');
  assert.deepEqual(
    plain.map((c) => c.nodeLocalLane),
    ['socket', 'socket'],
  );
  const two = await Promise.all(plain.map((c, r) => c.allReduceMean(grads[r])));
  assert.ok(bitsOf(two[1]).equals(bitsOf(sumInRankOrder(grads.slice(0, 2), new Float32Array(n), 2))));
  // on the socket the leader sums alone, and both ranks count it so
  for (const c of plain) assert.deepEqual(c.nodeLocalReductions, { scatter: 0, leader: 1 });
  await Promise.all(plain.map((c) => c.close()));
});

/**
 * 3 rank processes on one node; `preadRank`: that rank reads and writes with pread/pwrite (so the
 * leader sums alone), the others mmap (−1, all three: a reduce-scatter in shared memory)
 */
function startNode(name: string, dir: string, preadRank = 2) {
  const keyPrefix = prefix(name);
  const fixture = fileURLToPath(new URL('./fixtures/node-local-rank.ts', import.meta.url));
  const events: Record<string, unknown>[][] = [[], [], []];
  const children: ChildProcess[] = [0, 1, 2].map((rank) => {
    const options = { redisUrls: [TEST_REDIS_URL], keyPrefix, runId: name, rank, worldSize: 3, nodeName: 'n0', shmDir: dir };
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fixture,
        JSON.stringify({ ...options, timeoutMs: 20_000, length: 1_000_000, shmAccess: rank === preadRank ? 'pread' : 'mmap' }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    createInterface({ input: child.stdout! }).on('line', (l) => events[rank].push(JSON.parse(l) as Record<string, unknown>));
    return child;
  });
  const waitFor = (rank: number, pred: (ev: Record<string, unknown>) => boolean, ms: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        const ev = events[rank].find(pred);
        if (ev || Date.now() - t0 > ms) {
          clearInterval(poll);
          if (ev) resolve(ev);
          else reject(new Error(`rank ${rank}: no such event within ${ms} ms; saw ${JSON.stringify(events[rank].slice(-3))}`));
        }
      }, 5);
    });
  const exit = (rank: number) =>
    new Promise<number | null>((resolve) =>
      children[rank].exitCode !== null ? resolve(children[rank].exitCode) : children[rank].on('exit', resolve),
    );
  return { children, events, waitFor, exit };
}

// the leader summing alone (rank 2 on pread/pwrite) and the reduce-scatter (every rank maps)
const modes = [
  { mode: 'the leader sums', preadRank: 2, scatter: false },
  { mode: 'reduce-scatter', preadRank: -1, scatter: true },
] as const;

for (const { mode, preadRank, scatter } of modes) {
  test(`kill -9 of a follower mid-exchange (${mode}): the leader fails naming it, the other follower hears why, nothing left in /dev/shm`, async () => {
    const dir = shmDir();
    const node = startNode(`shmkillf${+scatter}`, dir, preadRank);
    try {
      for (const r of [0, 1, 2]) assert.equal((await node.waitFor(r, (e) => e.event === 'joined', 60_000)).lane, 'shm');
      const progress = await node.waitFor(0, (e) => e.event === 'progress' && (e.op as number) >= 10, 60_000);
      const { reductions } = progress as { reductions: { scatter: number; leader: number } };
      assert.equal(scatter ? reductions.scatter : reductions.leader, progress.op, JSON.stringify(progress));
      node.children[1].kill('SIGKILL');
      const e0 = await node.waitFor(0, (e) => e.event === 'error', 30_000);
      assert.match(
        e0.message as string,
        /^rank 1 left the node-local group on node "n0": its connection to the node leader \(rank 0\) closed/,
      );
      const e2 = await node.waitFor(2, (e) => e.event === 'error', 30_000);
      assert.match(e2.message as string, /the node leader \(rank 0\) on node "n0" failed all-reduce \d+: rank 1 left the node-local group/);
      assert.deepEqual([await node.exit(0), await node.exit(2)], [0, 0]);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      for (const c of node.children) if (c.exitCode === null) c.kill('SIGKILL');
    }
  });

  test(`kill -9 of the node leader mid-exchange (${mode}): both followers fail naming it, nothing left in /dev/shm`, async () => {
    const dir = shmDir();
    const node = startNode(`shmkilll${+scatter}`, dir, preadRank);
    try {
      const progress = await node.waitFor(1, (e) => e.event === 'progress' && (e.op as number) >= 10, 60_000);
      const { reductions } = progress as { reductions: { scatter: number; leader: number } };
      assert.equal(scatter ? reductions.scatter : reductions.leader, progress.op, JSON.stringify(progress));
      node.children[0].kill('SIGKILL');
      for (const r of [1, 2]) {
        const e = await node.waitFor(r, (ev) => ev.event === 'error', 30_000);
        assert.match(e.message as string, /^the node leader \(rank 0\) on node "n0" is gone: its connection closed/);
      }
      assert.deepEqual([await node.exit(1), await node.exit(2)], [0, 0]);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      for (const c of node.children) if (c.exitCode === null) c.kill('SIGKILL');
    }
  });
}

test('sliceOf: G slices of whole 64-byte lines that cover 0 … n once, in order', () => {
  for (const [n, G] of [
    [1_000_037, 3],
    [65_536, 8],
    [17, 4],
    [86_000_000, 8],
  ]) {
    const slices = Array.from({ length: G }, (_, i) => sliceOf(n, G, i));
    assert.equal(slices[0][0], 0);
    assert.equal(slices[G - 1][1], n);
    for (let i = 1; i < G; i++) assert.equal(slices[i][0], slices[i - 1][1]);
    for (const [lo] of slices) assert.ok(lo % 16 === 0 || lo === n, `${n}, ${G}: a slice from ${lo}`);
    // balanced: no slice longer than ⌈n/G⌉ rounded up to a line
    for (const [lo, hi] of slices) assert.ok(hi - lo <= Math.ceil(n / G / 16) * 16);
  }
  assert.deepEqual(sliceOf(17, 4, 0), [0, 16]);
  assert.deepEqual(sliceOf(17, 4, 1), [16, 17]);
  assert.deepEqual(sliceOf(17, 4, 3), [17, 17]);
});

/** new array bytes that `f` leaves live (a full GC first, so earlier garbage does not count) */
async function arrayBytesAddedBy<T>(f: () => Promise<T>): Promise<[T, number]> {
  gc();
  gc(); // twice: array buffers freed by the first are swept by the second
  const before = process.memoryUsage().arrayBuffers;
  const result = await f();
  return [result, process.memoryUsage().arrayBuffers - before];
}
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('allReduceMeanInto through /dev/shm: the result lands in the caller’s array (in place or not), scalar-reference bits, no new arrays', async () => {
  const dir = shmDir();
  const gang = await joinNode(3, () => dir, 'into3');
  assert.deepEqual(
    gang.map((c) => c.nodeLocalLane),
    ['shm', 'shm', 'shm'],
  );
  const n = 1_000_037; // 4 MB, not a multiple of the SIMD width
  // rank 1 reduces in place; ranks 0 and 2 into arrays of their own, the same ones every step
  const outs = [new Float32Array(n), undefined, new Float32Array(n)];
  const added: number[] = [];
  for (let step = 0; step < 3; step++) {
    const grads = gang.map((_, r) => randomGradients(n, 100 * step + r));
    const expected = sumInRankOrderScalar(grads, new Float32Array(n), 3);
    const dests = gang.map((_, r) => outs[r] ?? grads[r]);
    const [got, bytes] = await arrayBytesAddedBy(() => Promise.all(gang.map((c, r) => c.allReduceMeanInto(grads[r], dests[r]))));
    added.push(bytes);
    got.forEach((g, r) => {
      assert.equal(g, dests[r], `step ${step}, rank ${r}: the very array it passed`);
      assert.ok(bitsOf(g).equals(bitsOf(expected)), `step ${step}, rank ${r}: the scalar reference's bits`);
    });
  }
  // the control: allReduceMean's three fresh 4 MB results show up in the same measure
  const grads = gang.map((_, r) => randomGradients(n, r));
  const [, fresh] = await arrayBytesAddedBy(() => Promise.all(gang.map((c, r) => c.allReduceMean(grads[r]))));
  console.log(`array bytes left by one 4 MB all-reduce on 3 ranks: allReduceMeanInto ${added.join(', ')}; allReduceMean ${fresh}`);
  assert.ok(fresh >= 3 * n * 4, `allReduceMean: ${fresh} bytes`);
  for (const [step, bytes] of added.entries()) assert.ok(bytes < 64 * 1024, `step ${step}: ${bytes} bytes of new arrays`);
  // 1,000,037 floats: every step a reduce-scatter
  for (const c of gang) assert.deepEqual(c.nodeLocalReductions, { scatter: 4, leader: 0 });
  await assert.rejects(gang[0].allReduceMeanInto(new Float32Array(8), new Float32Array(7)), /out has 7 elements, data 8/);
  await assert.rejects(gang[0].allReduceMeanInto(grads[0].subarray(1), grads[0].subarray(0, n - 1)), /out overlaps data/);
  // those refusals broke nothing: the gang goes on
  const [again] = await Promise.all(gang.map((c, r) => c.allReduceMeanInto(grads[r], grads[r])));
  assert.ok(
    bitsOf(again).equals(
      bitsOf(
        sumInRankOrderScalar(
          gang.map((_, r) => randomGradients(n, r)),
          new Float32Array(n),
          3,
        ),
      ),
    ),
  );
  await Promise.all(gang.map((c) => c.close()));
  assert.deepEqual(readdirSync(dir), []);
});
