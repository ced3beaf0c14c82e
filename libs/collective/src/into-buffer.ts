/** Checks shared by the collectives' `allReduceMeanInto(data, out)`. */

/** `out` must hold exactly `data.length` values, and be `data` itself (the same bytes) or share no byte with it */
export function checkOut(data: Float32Array, out: Float32Array): void {
  if (out.length !== data.length)
    throw new Error(`allReduceMeanInto: out has ${out.length} elements, data ${data.length}: they must be the same length`);
  if (!sameBytes(data, out) && overlaps(data, out))
    throw new Error('allReduceMeanInto: out overlaps data without being data: pass data itself (in place) or a separate array');
}

/** whether two arrays share any byte */
export function overlaps(a: Float32Array, b: Float32Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** whether two arrays are views of the same bytes (in place) */
export function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.length === b.length;
}
