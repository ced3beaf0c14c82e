/**
 * IEEE 754 binary16 ("half") conversion for the all-reduce's optional float16 wire format.
 * Node 20 has no Float16Array, so halves travel as raw bits in a Uint16Array (little-endian bytes).
 * Encoding rounds to nearest, ties to even; overflow (|x| >= 65520) becomes ±inf, NaN stays NaN
 * (quiet, sign kept), values below 2^-14 become half subnormals (smallest 2^-24, ties to even).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half bits of one float32 value. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  return toHalf(u32[0], f32[0]);
}

/**
 * Half bits of the float32 with bits `bits` and value `value` (both: each path needs one).
 * After F. Giesen's float_to_half_fast3_rtne: normal halves by integer arithmetic on the bits,
 * adding 0xfff (+1 when the kept mantissa is odd) so the carry rounds to nearest even, and
 * overflowing into the infinity pattern from 65520 up; subnormal halves as round(|x| · 2^24),
 * rounded to even by the 2^52 trick in double arithmetic (exact: |x| · 2^24 < 2^10).
 */
function toHalf(bits: number, value: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x47800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00); // ≥ 2^16, inf: inf; NaN: quiet NaN
  if (abs >= 0x38800000) return sign | ((abs - 0x37fff001 + ((abs >>> 13) & 1)) >>> 13); // rebias 127 → 15, round
  return sign | (Math.abs(value) * 16777216 + 4503599627370496 - 4503599627370496);
}

/** float32 value of every half bit pattern: [65536], 256 KiB, built on first use. */
let decodeTable: Float32Array | undefined;

function table(): Float32Array {
  if (decodeTable) return decodeTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (decodeTable = t);
}

/** float32 value of half bits `h`. */
export function float16BitsToFloat32(h: number): number {
  return table()[h & 0xffff];
}

/** `src` [n] float32 → `dst` [n] half bits. */
export function encodeFloat16(src: Float32Array, dst: Uint16Array): Uint16Array {
  if (dst.length !== src.length) throw new Error(`encodeFloat16: dst has ${dst.length} elements, src ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = toHalf(bits[i], src[i]);
  return dst;
}

/** `src` [n] half bits → `dst` [n] float32 (exact: every half is a float32). */
export function decodeFloat16(src: Uint16Array, dst: Float32Array): Float32Array {
  if (dst.length !== src.length) throw new Error(`decodeFloat16: dst has ${dst.length} elements, src ${src.length}`);
  const t = table();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]];
  return dst;
}
