import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFloat16, encodeFloat16, float16BitsToFloat32, float32ToFloat16Bits } from './float16.ts';

test('float16: golden bit patterns, round to nearest even, inf, NaN, subnormals', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66], // 0.0999755859375
    [65504, 0x7bff], // largest half
    [65519.99, 0x7bff],
    [65520, 0x7c00], // tie between 65504 and 2^16: even → inf
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: even → 0
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 2^-24 and 2^-23: even → 2^-23
    [2 ** -14 - 2 ** -25, 0x0400], // tie at the subnormal/normal border: rounds up to 2^-14
    [1 + 2 ** -11, 0x3c00], // tie: even → 1
    [1 + 3 * 2 ** -11, 0x3c02], // tie: even → 1 + 2^-9
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
  ];
  for (const [x, h] of cases) assert.equal(float32ToFloat16Bits(x), h, `${x} → 0x${h.toString(16)}`);
  assert.equal(float32ToFloat16Bits(NaN) & 0x7c00, 0x7c00);
  assert.ok(float32ToFloat16Bits(NaN) & 0x3ff);
  assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))));
  assert.equal(float16BitsToFloat32(0x3555), 0.333251953125);
  assert.equal(float16BitsToFloat32(0x0001), 2 ** -24);
  assert.equal(float16BitsToFloat32(0xfc00), -Infinity);
});

test('float16: every half survives decode then encode; arrays agree with scalars', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const f = decodeFloat16(all, new Float32Array(65536));
  const back = encodeFloat16(f, new Uint16Array(65536));
  for (let h = 0; h < 65536; h++) {
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN) assert.ok(Number.isNaN(f[h]));
    else assert.equal(back[h], h, `0x${h.toString(16)}`);
  }
  // half-precision error of random values: |x - half(x)| ≤ 2^-11 |x| for normal halves
  const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1000);
  const y = decodeFloat16(encodeFloat16(x, new Uint16Array(1000)), new Float32Array(1000));
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= Math.abs(x[i]) * 2 ** -11 + 2 ** -24);
});

/** An independent, branchy reference: round |x| to 11 significant bits (or to 2^-24 steps), ties to even. */
function referenceHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  const e = a < 2 ** -14 ? -14 : Math.floor(Math.log2(a)); // binade (subnormals share the lowest)
  const ulp = 2 ** (e - 10);
  let q = a / ulp; // exact: a power-of-two scaling
  const fl = Math.floor(q);
  q = q - fl > 0.5 || (q - fl === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const v = q * ulp; // the rounded magnitude, a half
  if (v === 0) return sign;
  if (v < 2 ** -14) return sign | (v / 2 ** -24);
  const ve = Math.floor(Math.log2(v));
  return sign | ((ve + 15) << 10) | (v / 2 ** (ve - 10) - 1024);
}

test('float16: encoding agrees with an independent reference on random and near-tie float32 values', () => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let state = 12345;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  const values: number[] = [];
  for (let i = 0; i < 200_000; i++) {
    u[0] = next();
    values.push(f[0]);
    // exactly at, and one float32 ulp around, a half tie: low 13 mantissa bits = 0x1000 ± 1
    u[0] = ((next() % 0x0f800000) + 0x33000000) & ~0x1fff;
    for (const d of [0x0fff, 0x1000, 0x1001]) {
      u[0] = (u[0] & ~0x1fff) | d;
      values.push(f[0]);
    }
  }
  const encoded = encodeFloat16(Float32Array.from(values), new Uint16Array(values.length));
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) continue;
    assert.equal(encoded[i], referenceHalf(values[i]), `${values[i]}`);
  }
});
