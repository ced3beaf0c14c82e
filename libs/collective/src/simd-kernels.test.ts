import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNK, SIMD_MIN, WASM_BYTES, simdAvailable, simdDecodeBf16, simdEncodeBf16, simdSum } from './simd-kernels.ts';
import { sumInRankOrder, sumInRankOrderScalar } from './sum-in-rank-order.ts';
import { decodeBfloat16Scalar, encodeBfloat16, encodeBfloat16Scalar } from './bfloat16.ts';
import { bitsOf, randomGradients } from './test-support.ts';

/** lengths around the window and the 4- and 8-lane edges */
const LENGTHS = [SIMD_MIN, SIMD_MIN + 3, CHUNK - 1, CHUNK, 2 * CHUNK + 5, 3 * CHUNK + 7];

/** gradients with the edge cases in them: ±0, subnormals, overflow to ±inf, ±inf, NaN */
function specialGradients(n: number, seed: number): Float32Array {
  const a = randomGradients(n, seed);
  const specials = [0, -0, 1e-45, -1e-45, 1.2e-38, 3e38, -3e38, Infinity, -Infinity, NaN, 1 + 2 ** -8, 1 + 3 * 2 ** -8];
  for (let i = 0; i < n; i += 97) a[i] = specials[(i / 97 + seed) % specials.length];
  return a;
}

/** bit-identical except that a NaN only has to stay a NaN (its payload is the hardware's) */
function assertSameFloats(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let compared = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) assert.ok(Number.isNaN(got[i]), `${what}: [${i}] should be NaN, is ${got[i]}`);
    else if (g[i] !== w[i])
      assert.fail(`${what}: [${i}] = ${got[i]} (0x${g[i].toString(16)}), the scalar loop gives ${want[i]} (0x${w[i].toString(16)})`);
    compared++;
  }
  assert.equal(compared, want.length);
}

test('the SIMD module assembles and validates on this runtime (Node ≥ 20 has WebAssembly SIMD)', () => {
  assert.equal(WebAssembly.validate(WASM_BYTES), true);
  assert.equal(simdAvailable, true);
});

test('simdSum: the same float32 bits as the scalar rank-order loop, N = 1…5, every divisor path, odd lengths', () => {
  for (const n of LENGTHS) {
    for (let N = 1; N <= 5; N++) {
      const parts = Array.from({ length: N }, (_, s) => specialGradients(n, 31 * N + s));
      for (const divisor of [1, N, 3, 4, 8]) {
        if (N === 1 && divisor === 1) continue; // a copy, not a kernel
        const inverse = Number.isInteger(Math.log2(divisor)) ? 1 / divisor : 0;
        const want = sumInRankOrderScalar(parts, new Float32Array(n), divisor);
        const got = new Float32Array(n).fill(7); // stale values must not leak through
        assert.equal(simdSum(parts, got, inverse, divisor), true);
        assertSameFloats(got, want, `n=${n} N=${N} divisor=${divisor}`);
        // the public entry point takes the SIMD path at this size, and may write over parts[0]
        const alias = parts.map((p) => p.slice());
        sumInRankOrder(alias, alias[0], divisor);
        assertSameFloats(alias[0], want, `in place, n=${n} N=${N} divisor=${divisor}`);
      }
    }
  }
});

test('simdEncodeBf16 / simdDecodeBf16: the scalar loops bits, ties to even, NaN stays NaN', () => {
  for (const n of LENGTHS) {
    const v = specialGradients(n, n);
    const want = encodeBfloat16Scalar(v, new Uint16Array(n));
    const got = new Uint16Array(n);
    assert.equal(simdEncodeBf16(v, got), true);
    assert.ok(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `encode n=${n}`);
    // every 16-bit pattern decodes exactly
    const bits = Uint16Array.from({ length: n }, (_, i) => (i * 40503) & 0xffff);
    const back = new Float32Array(n);
    assert.equal(simdDecodeBf16(bits, back), true);
    assert.ok(bitsOf(back).equals(bitsOf(decodeBfloat16Scalar(bits, new Float32Array(n)))), `decode n=${n}`);
  }
  // the public encoder at SIMD size: 1 + 2^-8 ties to even (0x3f80), 1 + 3·2^-8 ties up (0x3f82), NaN quiet
  const v = new Float32Array(SIMD_MIN);
  v.set([1 + 2 ** -8, 1 + 3 * 2 ** -8, NaN, 3.4028234663852886e38, -0]);
  const e = encodeBfloat16(v, new Uint16Array(SIMD_MIN));
  assert.deepEqual([...e.subarray(0, 5)], [0x3f80, 0x3f82, 0x7fc0, 0x7f80, 0x8000]);
});
