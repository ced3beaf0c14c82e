import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, deriveSeed } from './rng.ts';

test('Rng: the same seed gives the same stream in every process (golden values)', () => {
  const r = new Rng(0);
  assert.deepEqual([r.nextUint32(), r.nextUint32(), r.nextUint32()], [3563087460, 3816037020, 4097523185]);
  assert.equal(new Rng(42).random(), 0.8179972891230136);
  assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
});

test('Rng: a saved state resumes the stream exactly', () => {
  const r = new Rng(7);
  for (let i = 0; i < 10; i++) r.random();
  const s = r.getState();
  const a = Array.from({ length: 5 }, () => r.random());
  const b = new Rng(s);
  assert.deepEqual(
    Array.from({ length: 5 }, () => b.random()),
    a,
  );
});

test('Rng: int, uniform and logUniform stay in range; the mean of random() is 1/2', () => {
  const r = new Rng(3);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const k = r.int(-45, 45);
    assert.ok(Number.isInteger(k) && k >= -45 && k < 45);
    const l = r.logUniform(1 / 3, 3);
    assert.ok(l >= 1 / 3 && l < 3);
    sum += r.random();
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01, `mean ${sum / 20000}`);
});
