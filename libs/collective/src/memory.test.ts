import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adminRedis,
  bitsOf,
  deleteKeysWithPrefix,
  joinGang,
  keysWithPrefix,
  randomGradients,
  testPrefix,
  usedMemory,
} from './test-support.ts';

const admin = adminRedis();
const keyPrefix = testPrefix('memory');
after(async () => {
  await deleteKeysWithPrefix(admin, keyPrefix);
  admin.disconnect();
});

test('memory: 200 all-reduces of 1 MB with 2 ranks leave Redis where it started (keys and used_memory)', async () => {
  const gang = await joinGang(2, { keyPrefix, bucketBytes: 256 * 1024, timeoutMs: 10_000 });
  const length = 262_147; // ~1 MB of float32, not a multiple of the bucket or of N
  const inputs = [randomGradients(length, 1), randomGradients(length, 2)];
  await Promise.all(gang.map((c, r) => c.allReduceMean(inputs[r]))); // warm up (allocations, script cache)
  // an operation resolves before its "done" reply: the last rank's key deletion may still be in flight
  const settledKeys = async () => {
    for (let i = 0; ; i++) {
      const keys = (await keysWithPrefix(admin, keyPrefix)).sort();
      if (keys.length === 2 || i === 100) return keys;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const keysBefore = await settledKeys();
  const memoryBefore = await usedMemory(admin);
  let during = 0; // used_memory sampled while operations are in flight
  const t0 = Date.now();
  for (let i = 0; i < 200; i++) {
    const [[a, b], mid] = await Promise.all([
      Promise.all(gang.map((c, r) => c.allReduceMean(inputs[r]))),
      i % 20 === 10 ? new Promise((resolve) => setTimeout(resolve, 3)).then(() => usedMemory(admin)) : 0,
    ]);
    assert.ok(bitsOf(a).equals(bitsOf(b)));
    during = Math.max(during, mid);
  }
  const seconds = (Date.now() - t0) / 1000;
  const keysAfter = await settledKeys();
  const memoryAfter = await usedMemory(admin);
  console.log(
    `200 all-reduces of ${((length * 4) / 1e6).toFixed(2)} MB in ${seconds.toFixed(2)} s; keys ${keysBefore.length} → ${keysAfter.length}; ` +
      `used_memory ${memoryBefore} → ${memoryAfter} bytes (Δ ${memoryAfter - memoryBefore}; up to ${during} while operations ran)`,
  );
  assert.deepEqual(keysAfter, keysBefore); // the two progress markers only
  assert.equal(keysBefore.length, 2);
  // used_memory is the whole server's: other test runs may share it. Leaking any one stream per
  // operation would add ≥ 200 × 0.5 MB; allow 16 MB of other clients' traffic (alone, Δ ≈ ±100 KB)
  assert.ok(memoryAfter - memoryBefore < 16 * 1024 * 1024, `used_memory grew by ${memoryAfter - memoryBefore} bytes`);
  await Promise.all(gang.map((c) => c.close()));
  assert.deepEqual(await keysWithPrefix(admin, keyPrefix), []);
});
