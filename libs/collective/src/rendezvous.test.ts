import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CollectiveTimeoutError } from './collective-timeout-error.ts';
import { RedisCollective } from './redis-collective.ts';
import { adminRedis, bitsOf, deleteKeysWithPrefix, joinGang, keysWithPrefix, testPrefix } from './test-support.ts';

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

test('rendezvous: 3 ranks joining at different times share one generation; no key is left after close', async () => {
  const keyPrefix = prefix('three');
  const gang = await Promise.all(
    [2, 0, 1].map(async (rank, i) => {
      await new Promise((resolve) => setTimeout(resolve, 60 * i));
      return RedisCollective.join({ keyPrefix, runId: 'r', rank, worldSize: 3, rendezvousTimeoutMs: 5000 });
    }),
  );
  assert.deepEqual(
    gang.map((c) => c.rank),
    [2, 0, 1],
  );
  assert.equal(new Set(gang.map((c) => c.generation)).size, 1);
  assert.match(gang[0].generation, /^[0-9a-f]{12}$/);
  await Promise.all(gang.map((c) => c.close()));
  assert.deepEqual(await keysWithPrefix(admin, keyPrefix), []);
});

test('rendezvous: 2 of 3 ranks within the timeout → the error names rank 2; a retry then succeeds', async () => {
  const keyPrefix = prefix('missing');
  const t0 = Date.now();
  const results = await Promise.allSettled(
    [0, 1].map((rank) => RedisCollective.join({ keyPrefix, runId: 'r', rank, worldSize: 3, rendezvousTimeoutMs: 800 })),
  );
  const ms = Date.now() - t0;
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    const e = (r as PromiseRejectedResult).reason;
    assert.ok(e instanceof CollectiveTimeoutError);
    assert.equal(e.message, 'rendezvous for run r timed out after 800 ms: rank 2 of 3 never joined');
    assert.deepEqual(e.missingRanks, [2]);
  }
  assert.ok(ms >= 780 && ms < 2000, `${ms} ms`);
  // the timed-out ranks left the roster: the same ranks can join again
  const gang = await joinGang(3, { keyPrefix, runId: 'r', rendezvousTimeoutMs: 2000 });
  await Promise.all(gang.map((c) => c.close()));

  const alone = await RedisCollective.join({ keyPrefix, runId: 'lonely', rank: 3, worldSize: 4, rendezvousTimeoutMs: 300 }).catch(
    (e: Error) => e,
  );
  assert.equal((alone as Error).message, 'rendezvous for run lonely timed out after 300 ms: ranks 0, 1, 2 of 4 never joined');
});

test('rendezvous: the same rank twice, or a different worldSize, is a clear error', async () => {
  const keyPrefix = prefix('dup');
  const first = RedisCollective.join({ keyPrefix, runId: 'r', rank: 0, worldSize: 2, rendezvousTimeoutMs: 3000 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  await assert.rejects(RedisCollective.join({ keyPrefix, runId: 'r', rank: 0, worldSize: 2 }), /rendezvous for run r: rank 0 joined twice/);
  await assert.rejects(
    RedisCollective.join({ keyPrefix, runId: 'r', rank: 1, worldSize: 3 }),
    /worldSize mismatch: rank 1 joined with worldSize 3, rank 0 with worldSize 2/,
  );
  const second = await RedisCollective.join({ keyPrefix, runId: 'r', rank: 1, worldSize: 2 });
  const c0 = await first;
  assert.equal(c0.generation, second.generation);
  await Promise.all([c0.close(), second.close()]);
  await assert.rejects(
    RedisCollective.join({ keyPrefix, runId: 'r', rank: 2, worldSize: 2 }),
    /rank must be an integer in \[0, 2\), got 2/,
  );
});

test("rendezvous: a restarted gang gets a fresh generation and never reads the dead gang's keys", async () => {
  const keyPrefix = prefix('restart');
  const old = await joinGang(2, { keyPrefix, timeoutMs: 500 });
  // the old gang dies mid all-reduce: rank 0 has sent its chunks, rank 1 never calls
  await assert.rejects(old[0].allReduceSum(Float32Array.from([1, 2, 3, 4])), /all-reduce 1 timed out after 500 ms waiting for rank 1/);
  await old[1].allReduceSum(Float32Array.from([10, 20, 30, 40])).catch(() => {}); // sends too, then times out
  // (the old gang is left open, as if its processes hung: its op-1 streams stay in Redis)
  assert.ok((await keysWithPrefix(admin, `${keyPrefix}:run:${old[0].generation}:op:1:rs`)).length > 0);
  const fresh = await joinGang(2, { keyPrefix, timeoutMs: 2000 });
  assert.notEqual(fresh[0].generation, old[0].generation);
  const got = await Promise.all([
    fresh[0].allReduceSum(Float32Array.from([5, 5, 5, 5])),
    fresh[1].allReduceSum(Float32Array.from([1, 1, 1, 1])),
  ]);
  assert.ok(bitsOf(got[0]).equals(bitsOf(Float32Array.from([6, 6, 6, 6]))));
  assert.ok(bitsOf(got[1]).equals(bitsOf(got[0])));
  await Promise.all([...old, ...fresh].map((c) => c.close()));
});
