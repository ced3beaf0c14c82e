/**
 * bfloat16 conversion for the all-reduce's half-precision wire: the top 16 bits of a float32
 * (8 exponent bits, so float32's whole range: no overflow or underflow where float16 has them;
 * 8 significant bits, unit roundoff 2^-8). Encoding rounds to nearest, ties to even;
 * NaN stays a (quiet) NaN, ±inf stays ±inf, values that round past the largest bfloat16 become ±inf.
 * Halves travel as raw bits in a Uint16Array (little-endian bytes).
 * Arrays of SIMD_MIN values or more go through the WebAssembly SIMD kernels (simd-kernels.ts, the
 * same bits as the scalar loops below, which stay as the reference and the fallback).
 */
import { SIMD_MIN, simdDecodeBf16, simdEncodeBf16 } from './simd-kernels.ts';

/** bits [n] ← round(values [n]) to bfloat16. */
export function encodeBfloat16(values: Float32Array, out: Uint16Array): Uint16Array {
  if (out.length !== values.length) throw new Error(`encodeBfloat16: ${values.length} values, ${out.length} slots`);
  if (values.length >= SIMD_MIN && simdEncodeBf16(values, out)) return out;
  return encodeBfloat16Scalar(values, out);
}

/** the scalar reference of encodeBfloat16 */
export function encodeBfloat16Scalar(values: Float32Array, out: Uint16Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    // NaN: keep the sign, force a quiet-NaN mantissa bit (a truncation could give inf)
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16; // adds 0x7fff (+1 when the kept part is odd): round to nearest even
  }
  return out;
}

/** values [n] ← bfloat16 bits [n] (exact). */
export function decodeBfloat16(bits: Uint16Array, out: Float32Array): Float32Array {
  if (out.length !== bits.length) throw new Error(`decodeBfloat16: ${bits.length} values, ${out.length} slots`);
  if (bits.length >= SIMD_MIN && simdDecodeBf16(bits, out)) return out;
  return decodeBfloat16Scalar(bits, out);
}

/** the scalar reference of decodeBfloat16 */
export function decodeBfloat16Scalar(bits: Uint16Array, out: Float32Array): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}
