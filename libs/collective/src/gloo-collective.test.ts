import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CollectiveTimeoutError } from './collective-timeout-error.ts';
import { GLOO_ALGORITHMS, GlooCollective, glooAvailable, type GlooCollectiveOptions } from './gloo-collective.ts';
import { adminRedis, bitsOf, deleteKeysWithPrefix, keysWithPrefix, randomGradients, testPrefix } from './test-support.ts';

const skip = !glooAvailable() && 'the Gloo addon is not built (libgloo-dev; node scripts/native-gloo.mjs)';
const admin = adminRedis();
const prefixes: string[] = [];
after(async () => {
  for (const p of prefixes) await deleteKeysWithPrefix(admin, p);
  admin.disconnect();
});
function prefix(name: string): string {
  const p = testPrefix(name);
  prefixes.push(p);
  return p;
}

function joinGloo(worldSize: number, o: Partial<GlooCollectiveOptions> & { keyPrefix: string }): Promise<GlooCollective[]> {
  return Promise.all(
    Array.from({ length: worldSize }, (_, rank) => GlooCollective.join({ runId: 'run', timeoutMs: 10_000, ...o, rank, worldSize })),
  );
}

const EPS = 2 ** -24;
const SIZES = [1, 1000, 100_003]; // 1000 and 100 003 are not divisible by 3; 1 is fewer elements than ranks

for (const worldSize of [2, 3]) {
  for (const algorithm of GLOO_ALGORITHMS) {
    test(
      `gloo ${algorithm}, ${worldSize} ranks: the same bits on every rank, the float64 mean within float32 rounding`,
      { skip },
      async () => {
        const keyPrefix = prefix(`mean${worldSize}${algorithm}`);
        const gang = await joinGloo(worldSize, { keyPrefix, algorithm });
        for (const n of SIZES) {
          const inputs = gang.map((_, r) => randomGradients(n, 1000 * worldSize + 17 * r + n));
          const copies = inputs.map((a) => a.slice());
          const means = await Promise.all(gang.map((c, r) => c.allReduceMean(inputs[r])));
          for (let r = 0; r < worldSize; r++) {
            assert.deepEqual(bitsOf(inputs[r]), bitsOf(copies[r]), 'allReduceMean leaves its input alone');
            assert.ok(bitsOf(means[r]).equals(bitsOf(means[0])), `rank ${r}'s mean differs from rank 0's (n = ${n})`);
          }
          for (let i = 0; i < n; i++) {
            let ref = 0;
            let abs = 0;
            for (const a of inputs) {
              ref += a[i];
              abs += Math.abs(a[i]);
            }
            // worldSize − 1 float32 additions and one division: each rounds by at most EPS
            const bound = (worldSize * EPS * abs) / worldSize + EPS * Math.abs(ref / worldSize) + Number.MIN_VALUE;
            assert.ok(Math.abs(means[0][i] - ref / worldSize) <= bound, `n = ${n}, element ${i}: ${means[0][i]} vs ${ref / worldSize}`);
          }
          // in place: the same bits in the caller's arrays, and no new array
          const outs = await Promise.all(gang.map((c, r) => c.allReduceMeanInto(copies[r], copies[r])));
          outs.forEach((o, r) => {
            assert.equal(o, copies[r]);
            assert.ok(bitsOf(o).equals(bitsOf(means[0])), `in place, rank ${r}, n = ${n}`);
          });
        }
        await Promise.all(gang.map((c) => c.close()));
        assert.deepEqual(await keysWithPrefix(admin, keyPrefix), [], 'every key is gone after close');
      },
    );
  }
}

test('gloo broadcast and barrier; close is idempotent and later ops refuse', { skip }, async () => {
  const keyPrefix = prefix('bcast');
  const gang = await joinGloo(3, { keyPrefix });
  const payload = new Uint8Array(100_001).map((_, i) => (i * 31) & 255);
  const got = await Promise.all(gang.map((c) => c.broadcast(c.rank === 0 ? payload : new Uint8Array(0))));
  for (const g of got) assert.deepEqual(Buffer.from(g), Buffer.from(payload));
  const empty = await Promise.all(gang.map((c) => c.broadcast(new Uint8Array(0))));
  for (const g of empty) assert.equal(g.length, 0);
  await Promise.all(gang.map((c) => c.barrier()));
  await Promise.all(gang.map((c) => c.close()));
  await gang[0].close();
  await assert.rejects(gang[1].barrier(), /is closed: cannot start barrier/);
  assert.deepEqual(await keysWithPrefix(admin, keyPrefix), []);
});

test('gloo, one rank: the mean is the data, nothing to wait for', { skip }, async () => {
  const [c] = await joinGloo(1, { keyPrefix: prefix('one') });
  const data = randomGradients(999, 5);
  assert.ok(bitsOf(await c.allReduceMean(data)).equals(bitsOf(data)));
  await c.close();
});

test(
  "gloo rendezvous: a rank that never joins is named, on both paths (our rendezvous; Gloo's store with a given generation)",
  { skip },
  async () => {
    for (const generation of [undefined, 7]) {
      const keyPrefix = prefix(`never${generation ?? ''}`);
      const t0 = Date.now();
      const errors = await Promise.all(
        [0, 1].map((rank) =>
          GlooCollective.join({ keyPrefix, runId: 'never', rank, worldSize: 3, timeoutMs: 1000, generation }).then(
            () => assert.fail('joined without rank 2'),
            (e: Error) => e,
          ),
        ),
      );
      const ms = Date.now() - t0;
      for (const e of errors) {
        assert.ok(e instanceof CollectiveTimeoutError, String(e));
        assert.deepEqual(e.missingRanks, [2], e.message);
        assert.match(e.message, /rank 2/);
      }
      assert.ok(ms < 1000 + 3000, `${ms} ms`);
      // Gloo's keys are gone (RedisCollective's rendezvous leaves its roster to its TTL, as ever)
      assert.deepEqual(
        (await keysWithPrefix(admin, keyPrefix)).filter((k) => k.includes(':gloo')),
        [],
      );
    }
  },
);

for (const algorithm of ['ring', 'halving-doubling'] as const) {
  test(`gloo ${algorithm}: a rank that never comes to an all-reduce is named after the timeout; later ops refuse`, { skip }, async () => {
    const keyPrefix = prefix(`hang${algorithm}`);
    const timeoutMs = 1000;
    const gang = await joinGloo(3, { keyPrefix, algorithm, timeoutMs });
    const t0 = Date.now();
    const errors = await Promise.all([0, 1].map((r) => gang[r].allReduceMean(new Float32Array(10_000)).catch((e: Error) => e)));
    const ms = Date.now() - t0;
    for (const e of errors) {
      assert.ok(e instanceof CollectiveTimeoutError, String(e));
      assert.deepEqual(e.missingRanks, [2], e.message);
      assert.match(
        e.message,
        /all-reduce 1 failed \(Gloo: .*\); rank 2 did not report back by the op's timeout \+ 1000 ms \(dead or hung\)$/,
      );
    }
    assert.ok(ms >= timeoutMs && ms < timeoutMs + 2000 + 1500, `${ms} ms`);
    await assert.rejects(gang[0].barrier(), /cannot start barrier: an earlier operation failed.*all-reduce 1 failed/);
    await Promise.all(gang.map((c) => c.close()));
  });
}

test('gloo, kill -9 of a rank process mid all-reduce: the others reject within the timeout, naming it, and exit', { skip }, async () => {
  const keyPrefix = prefix('glookill');
  const timeoutMs = 2000;
  const fixture = fileURLToPath(new URL('./fixtures/rank-loop.ts', import.meta.url));
  const events: Record<string, unknown>[][] = [[], [], []];
  const children: ChildProcess[] = [0, 1, 2].map((rank) => {
    const options = { transport: 'gloo', keyPrefix, runId: 'kill', rank, worldSize: 3, timeoutMs, generation: 1, length: 1_000_000 };
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout! }).on('line', (l) => events[rank].push(JSON.parse(l) as Record<string, unknown>));
    return child;
  });
  const waitFor = async (rank: number, pred: (ev: Record<string, unknown>) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const ev = events[rank].find(pred);
      if (ev) return ev;
      if (Date.now() > deadline)
        throw new Error(`rank ${rank}: no such event within ${ms} ms; saw ${JSON.stringify(events[rank].slice(-3))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    await waitFor(0, (ev) => ev.event === 'progress' && (ev.op as number) >= 10, 60_000);
    const exits = [0, 1].map((r) => new Promise((resolve) => children[r].on('exit', resolve)));
    const killedAt = Date.now();
    children[2].kill('SIGKILL');
    for (const r of [0, 1]) {
      const err = await waitFor(r, (ev) => ev.event === 'error', timeoutMs + 5000);
      const ms = (err.at as number) - killedAt;
      console.log(`rank ${r} rejected ${ms} ms after kill -9 of rank 2 (timeout ${timeoutMs} ms) at op ${err.op}: ${err.message}`);
      assert.deepEqual(err.missingRanks, [2]);
      assert.match(err.message as string, /all-reduce \d+ failed \(Gloo: .*\); rank 2 did not report back by the op's timeout \+ 2000 ms/);
      assert.ok(ms <= timeoutMs + 3000, `${ms} ms`);
    }
    assert.deepEqual(await Promise.all(exits), [0, 0]); // the survivors closed and exited: no hang
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
});
