import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBfloat16, encodeBfloat16 } from './bfloat16.ts';
import { bfloat16Wire } from './wire-format.ts';

const enc = (xs: number[]) => [...encodeBfloat16(Float32Array.from(xs), new Uint16Array(xs.length))];

test('encodeBfloat16: golden bits, round to nearest even, specials', () => {
  // max float32 rounds to inf
  const max32 = 3.4028234663852886e38;
  assert.deepEqual(enc([1, -2, 0, -0, 0.5, 65536, max32]), [0x3f80, 0xc000, 0x0000, 0x8000, 0x3f00, 0x4780, 0x7f80]);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1); 1 + 3·2^-8 ties up to 1 + 2^-6
  assert.deepEqual(enc([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20]), [0x3f80, 0x3f82, 0x3f81]);
  assert.deepEqual(enc([Infinity, -Infinity]), [0x7f80, 0xff80]);
  const [nan] = enc([NaN]);
  assert.ok((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0, 'NaN stays NaN');
  // float32's tiny values survive (float16 would flush them): 1e-30
  const tiny = decodeBfloat16(Uint16Array.from(enc([1e-30])), new Float32Array(1))[0];
  assert.ok(Math.abs(tiny - 1e-30) / 1e-30 < 2 ** -8, String(tiny));
});

test('bfloat16 wire: round trip within unit roundoff 2^-8; half the bytes', () => {
  const v = Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i) * 10 ** ((i % 13) - 6));
  const payload = bfloat16Wire.encode(v);
  assert.equal(payload.length, 2002);
  const back = bfloat16Wire.decode(Buffer.concat([Buffer.alloc(1), payload]).subarray(1)); // an odd offset
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(back[i] - v[i]) <= Math.abs(v[i]) * 2 ** -8, `${v[i]} → ${back[i]}`);
});
