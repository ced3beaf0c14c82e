import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisCollective } from './redis-collective.ts';
import { ShardedCollective } from './sharded-collective.ts';
import {
  adminRedis,
  bitsOf,
  deleteKeysWithPrefix,
  joinGang,
  keysWithPrefix,
  randomGradients,
  testPrefix,
  TEST_REDIS_URL,
} from './test-support.ts';

const admin = adminRedis();
const prefixes: string[] = [];
/** gangs a failed test may leave open (their connections would keep the process alive) */
const openGangs: { close(): Promise<void> }[][] = [];
after(async () => {
  for (const g of openGangs) await Promise.all(g.map((c) => c.close()));
  for (const p of prefixes) await deleteKeysWithPrefix(admin, p);
  admin.disconnect();
});

function prefix(name: string): string {
  const p = testPrefix(name);
  prefixes.push(p);
  return p;
}

/** float32 sum in rank order, then ÷ N for a mean: what every rank must return, bit for bit */
function rankOrderFloat32(inputs: Float32Array[], mode: 'sum' | 'mean'): Float32Array {
  const out = new Float32Array(inputs[0].length);
  for (let i = 0; i < out.length; i++) {
    let s = inputs[0][i];
    for (let r = 1; r < inputs.length; r++) s = Math.fround(s + inputs[r][i]);
    out[i] = mode === 'mean' ? Math.fround(s / inputs.length) : s;
  }
  return out;
}

/** Closes a gang and checks it left no key behind. */
async function closeGang(gang: RedisCollective[], keyPrefix: string): Promise<void> {
  await Promise.all(gang.map((c) => c.close()));
  assert.deepEqual(await keysWithPrefix(admin, keyPrefix), []);
}

test('all-reduce: N = 2, 3, 4, odd lengths, several buckets: rank-order float32 bits on every rank, close to the float64 sum', async () => {
  for (const N of [2, 3, 4]) {
    for (const bucketBytes of [40, 4 << 20]) {
      const keyPrefix = prefix(`ar${N}-${bucketBytes}`);
      const gang = await joinGang(N, { keyPrefix, bucketBytes, timeoutMs: 10_000 });
      for (const length of [1, 2, 3, 5, 1001, 10_007]) {
        const inputs = gang.map((_, r) => randomGradients(length, 1000 * N + 10 * r + length));
        for (const mode of ['sum', 'mean'] as const) {
          const got = await Promise.all(gang.map((c, r) => (mode === 'sum' ? c.allReduceSum(inputs[r]) : c.allReduceMean(inputs[r]))));
          const want = rankOrderFloat32(inputs, mode);
          for (let r = 0; r < N; r++)
            assert.ok(bitsOf(got[r]).equals(bitsOf(want)), `N=${N} bucketBytes=${bucketBytes} length=${length} ${mode}: rank ${r}`);
          // the float64 reference, in rank order: within the error bound of recursive float32 summation
          for (let i = 0; i < length; i++) {
            let s64 = 0;
            let abs = 0;
            for (const x of inputs) {
              s64 += x[i];
              abs += Math.abs(x[i]);
            }
            const scale = mode === 'mean' ? 1 / N : 1;
            assert.ok(Math.abs(got[0][i] - s64 * scale) <= N * 2 ** -24 * abs * scale + 1e-45, `N=${N} length=${length} element ${i}`);
          }
          // the inputs are untouched
          assert.ok(bitsOf(inputs[0]).equals(bitsOf(randomGradients(length, 1000 * N + length))));
        }
      }
      await closeGang(gang, keyPrefix);
    }
  }
});

test('allReduceMeanInto over Redis (1 and 2 shards): in place or into another array, the rank-order bits, the caller’s array back', async () => {
  for (const K of [1, 2]) {
    const keyPrefix = prefix(`into-${K}`);
    const servers = K === 1 ? [TEST_REDIS_URL] : [TEST_REDIS_URL, TEST_REDIS_URL];
    const gang = await Promise.all(
      [0, 1, 2].map((rank) =>
        ShardedCollective.join({ redisUrls: servers, keyPrefix, runId: 'into', rank, worldSize: 3, bucketBytes: 4096, timeoutMs: 10_000 }),
      ),
    );
    openGangs.push(gang);
    for (const length of [1, 1001, 10_007]) {
      const inputs = gang.map((_, r) => randomGradients(length, 7 * length + r));
      const want = rankOrderFloat32(inputs, 'mean');
      // rank 0 in place, ranks 1 and 2 into arrays of their own (rank 2's inside a bigger buffer)
      const outs = [inputs[0], new Float32Array(length), new Float32Array(length + 3).subarray(2, length + 2)];
      const got = await Promise.all(gang.map((c, r) => c.allReduceMeanInto(inputs[r], outs[r])));
      got.forEach((g, r) => {
        assert.equal(g, outs[r], `K=${K} length=${length} rank ${r}: the array it passed`);
        assert.ok(bitsOf(g).equals(bitsOf(want)), `K=${K} length=${length} rank ${r}`);
      });
      assert.ok(bitsOf(inputs[1]).equals(bitsOf(randomGradients(length, 7 * length + 1))), 'data untouched when out is another array');
    }
    await assert.rejects(gang[0].allReduceMeanInto(new Float32Array(4), new Float32Array(5)), /out has 5 elements, data 4/);
    await Promise.all(gang.map((c) => c.close()));
    assert.deepEqual(await keysWithPrefix(admin, keyPrefix), []);
  }
});

test('all-reduce: arrival order does not change the bits (sums are in rank order)', async () => {
  const N = 3;
  const keyPrefix = prefix('order');
  const gang = await joinGang(N, { keyPrefix, bucketBytes: 400 });
  // order matters for float32: (1e8 + 1) - 1e8 = 0 in rank order, 1 if rank 2 came before rank 1
  const inputs = gang.map((_, r) => {
    const x = randomGradients(777, 7 + r);
    x[0] = [1e8, 1, -1e8][r];
    return x;
  });
  const want = rankOrderFloat32(inputs, 'sum');
  assert.equal(want[0], 0);
  const orders = [
    [0, 1, 2],
    [2, 1, 0],
    [1, 2, 0],
    [2, 0, 1],
  ];
  for (const order of orders) {
    const got = await Promise.all(
      gang.map(async (c, r) => {
        await new Promise((resolve) => setTimeout(resolve, 40 * order.indexOf(r)));
        return c.allReduceSum(inputs[r]);
      }),
    );
    for (let r = 0; r < N; r++) assert.ok(bitsOf(got[r]).equals(bitsOf(want)), `arrival order ${order}: rank ${r}`);
  }
  await closeGang(gang, keyPrefix);
});

test('all-reduce: non-finite values propagate; N = 1 is the identity', async () => {
  const keyPrefix = prefix('nonfinite');
  const gang = await joinGang(2, { keyPrefix });
  const a = Float32Array.from([1, Infinity, NaN, -Infinity, 3]);
  const b = Float32Array.from([2, 1, 0, Infinity, 3.5]);
  const [x, y] = await Promise.all([gang[0].allReduceSum(a), gang[1].allReduceSum(b)]);
  assert.deepEqual(Array.from(x), [3, Infinity, NaN, NaN, 6.5]);
  assert.ok(bitsOf(x).equals(bitsOf(y)));
  await closeGang(gang, keyPrefix);

  const soloPrefix = prefix('solo');
  const [solo] = await joinGang(1, { keyPrefix: soloPrefix });
  const d = randomGradients(1001, 3);
  assert.ok(bitsOf(await solo.allReduceMean(d)).equals(bitsOf(d)));
  await closeGang([solo], soloPrefix);
});

test('all-reduce, float16 wire: within half precision of the float64 mean, identical on every rank', async () => {
  const N = 3;
  const keyPrefix = prefix('f16');
  const gang = await joinGang(N, { keyPrefix, bucketBytes: 400, wire: 'float16' });
  const length = 1001;
  const inputs = gang.map((_, r) => Float32Array.from(randomGradients(length, 50 + r), (v) => Math.sign(v) * Math.min(Math.abs(v), 100)));
  const got = await Promise.all(gang.map((c, r) => c.allReduceMean(inputs[r])));
  for (let r = 1; r < N; r++) assert.ok(bitsOf(got[r]).equals(bitsOf(got[0])), `rank ${r}`);
  let exactlyHalf = 0;
  for (let i = 0; i < length; i++) {
    let s64 = 0;
    let abs = 0;
    for (const x of inputs) {
      s64 += x[i];
      abs += Math.abs(x[i]);
    }
    const mean = s64 / N;
    // one rounding to half of each input, one of the result (2^-11 relative each), plus subnormal spacing
    const tol = 2 ** -11 * (abs / N) + 2 ** -11 * Math.abs(mean) + 2 ** -24;
    assert.ok(Math.abs(got[0][i] - mean) <= tol, `element ${i}: ${got[0][i]} vs ${mean} (tol ${tol})`);
    if (Math.abs(got[0][i] - mean) > 0) exactlyHalf++;
  }
  assert.ok(exactlyHalf > 0, 'the float16 wire did round something');
  await closeGang(gang, keyPrefix);
});

test('all-reduce: ranks with different lengths get a clear error', async () => {
  const keyPrefix = prefix('len');
  const gang = await joinGang(2, { keyPrefix, timeoutMs: 2000 });
  const results = await Promise.allSettled([gang[0].allReduceSum(new Float32Array(10)), gang[1].allReduceSum(new Float32Array(11))]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.match((r as PromiseRejectedResult).reason.message, /all-reduces 1[01] elements, rank [01] has 1[01]|timed out/);
  }
  assert.ok(results.some((r) => /same length/.test((r as PromiseRejectedResult).reason.message)));
  await Promise.all(gang.map((c) => c.close()));
});

test('broadcast: rank 0 bytes on every rank (empty, odd sizes, 100 MB), barrier waits for the last rank', async () => {
  const N = 3;
  const keyPrefix = prefix('bcast');
  const gang = await joinGang(N, { keyPrefix, bucketBytes: 1000 });
  for (const size of [0, 1, 999, 1000, 1001, 12_345]) {
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 255);
    const got = await Promise.all(gang.map((c, r) => c.broadcast(r === 0 ? data : new Uint8Array(3))));
    for (let r = 0; r < N; r++) assert.deepEqual(Buffer.from(got[r]), Buffer.from(data), `size ${size} rank ${r}`);
  }
  // barrier: nobody leaves before the last rank arrives (250 ms late)
  const t0 = Date.now();
  const left = await Promise.all(
    gang.map(async (c, r) => {
      if (r === 2) await new Promise((resolve) => setTimeout(resolve, 250));
      await c.barrier();
      return Date.now() - t0;
    }),
  );
  for (const ms of left) assert.ok(ms >= 240, `left the barrier after ${ms} ms`);
  await closeGang(gang, keyPrefix);

  // initial weights: 100 MB from rank 0 to rank 1, in 4 MiB messages
  const bigPrefix = prefix('bcast100');
  const pair = await joinGang(2, { keyPrefix: bigPrefix });
  const weights = new Uint8Array(100 * 1024 * 1024);
  for (let i = 0; i < weights.length; i += 4093) weights[i] = i & 255;
  const t1 = Date.now();
  const [, copy] = await Promise.all([pair[0].broadcast(weights), pair[1].broadcast(new Uint8Array())]);
  const ms = Date.now() - t1;
  assert.ok(Buffer.from(copy).equals(Buffer.from(weights)));
  console.log(`broadcast of 100 MB to 1 rank: ${ms} ms`);
  await closeGang(pair, bigPrefix);
});
