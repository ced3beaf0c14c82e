import { SIMD_MIN, simdSum } from './simd-kernels.ts';

/**
 * out [n] = (parts[0] + parts[1] + … + parts[N−1]) ÷ divisor, element-wise, in that order, with
 * float32 rounding after every addition and after the division: exactly what summing float32
 * values one rank after the other gives, so every rank that runs it gets the same bits.
 * One pass for N = 2 (the common case); the ÷ is fused into the last addition. A power-of-two
 * divisor is applied as a multiplication by its (exact) inverse, which rounds identically.
 * `out` may alias parts[0].
 *
 * Arrays of SIMD_MIN elements or more go through the WebAssembly SIMD kernels (simd-kernels.ts:
 * 4 lanes, the same roundings, so the same bits; ~8× the scalar loop); shorter ones, and runtimes
 * without WebAssembly SIMD (or after `useSimdKernels(false)`), take the scalar loop below.
 */
export function sumInRankOrder(parts: Float32Array[], out: Float32Array, divisor = 1): Float32Array {
  const n = out.length;
  for (const p of parts) if (p.length !== n) throw new Error(`sumInRankOrder: a part has ${p.length} elements, out ${n}`);
  const inverse = Number.isInteger(Math.log2(divisor)) ? 1 / divisor : 0; // 0: divide
  if (parts.length === 1 && divisor === 1) {
    if (out !== parts[0]) out.set(parts[0]);
    return out;
  }
  if (n >= SIMD_MIN && simdSum(parts, out, inverse, divisor)) return out;
  return sumInRankOrderScalar(parts, out, divisor);
}

/** the scalar reference of sumInRankOrder (exported for the tests that compare the two) */
export function sumInRankOrderScalar(parts: Float32Array[], out: Float32Array, divisor = 1): Float32Array {
  const n = out.length;
  const N = parts.length;
  const inverse = Number.isInteger(Math.log2(divisor)) ? 1 / divisor : 0; // 0: divide
  const scale = (x: number) => (divisor === 1 ? x : inverse ? x * inverse : x / divisor);
  if (N === 1) {
    const a = parts[0];
    for (let i = 0; i < n; i++) out[i] = scale(a[i]);
    return out;
  }
  const a = parts[0];
  const b = parts[1];
  if (N === 2) {
    if (divisor === 1) for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    else if (inverse) for (let i = 0; i < n; i++) out[i] = Math.fround(a[i] + b[i]) * inverse;
    else for (let i = 0; i < n; i++) out[i] = Math.fround(a[i] + b[i]) / divisor;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  for (let s = 2; s < N - 1; s++) {
    const p = parts[s];
    for (let i = 0; i < n; i++) out[i] += p[i];
  }
  const z = parts[N - 1];
  if (divisor === 1) for (let i = 0; i < n; i++) out[i] += z[i];
  else if (inverse) for (let i = 0; i < n; i++) out[i] = Math.fround(out[i] + z[i]) * inverse;
  else for (let i = 0; i < n; i++) out[i] = Math.fround(out[i] + z[i]) / divisor;
  return out;
}
