/**
 * How float32 values travel in stream entries. Payloads are little-endian (the byte order of
 * Float32Array on every platform Node supports for training; checked at load).
 */
import { endianness } from 'node:os';
import { decodeBfloat16, encodeBfloat16 } from './bfloat16.ts';
import { decodeFloat16, encodeFloat16 } from './float16.ts';

if (endianness() !== 'LE') throw new Error('libs/collective assumes a little-endian host');

export type WireName = 'float32' | 'float16' | 'bfloat16';

export interface WireFormat {
  readonly name: WireName;
  /** bytes per element on the wire */
  readonly bytesPerElement: number;
  /** values [n] → payload; may be a view of `values`, which must then stay unchanged until sent */
  encode(values: Float32Array): Buffer;
  /** payload of n elements → values [n]; may be a view of `payload` */
  decode(payload: Buffer): Float32Array;
}

export const float32Wire: WireFormat = {
  name: 'float32',
  bytesPerElement: 4,
  encode: (v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength),
  decode: (p) => {
    // a reply buffer may start at any byte; Float32Array views need 4-byte alignment
    if (p.byteOffset % 4 === 0) return new Float32Array(p.buffer, p.byteOffset, p.length / 4);
    const copy = new Float32Array(p.length / 4);
    new Uint8Array(copy.buffer).set(p);
    return copy;
  },
};

/** A 16-bit wire: `encode16` rounds float32 values to the format's bits, `decode16` widens them exactly. */
function halfWire(
  name: 'float16' | 'bfloat16',
  encode16: (v: Float32Array, out: Uint16Array) => Uint16Array,
  decode16: (bits: Uint16Array, out: Float32Array) => Float32Array,
): WireFormat {
  return {
    name,
    bytesPerElement: 2,
    encode: (v) => {
      const half = encode16(v, new Uint16Array(v.length));
      return Buffer.from(half.buffer, half.byteOffset, half.byteLength);
    },
    decode: (p) => {
      const n = p.length / 2;
      let half: Uint16Array;
      if (p.byteOffset % 2 === 0) half = new Uint16Array(p.buffer, p.byteOffset, n);
      else {
        half = new Uint16Array(n);
        new Uint8Array(half.buffer).set(p);
      }
      return decode16(half, new Float32Array(n));
    },
  };
}

/** IEEE half: 11 significant bits, but overflows above 65504 and loses values below 6e-8 */
export const float16Wire = halfWire('float16', encodeFloat16, decodeFloat16);
/** bfloat16: 8 significant bits, float32's range (no gradient overflows or flushes to zero) */
export const bfloat16Wire = halfWire('bfloat16', encodeBfloat16, decodeBfloat16);

export const WIRE_NAMES: readonly WireName[] = ['float32', 'float16', 'bfloat16'];

export function wireFormat(name: WireName): WireFormat {
  return name === 'float16' ? float16Wire : name === 'bfloat16' ? bfloat16Wire : float32Wire;
}
