/**
 * safetensors: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {k: string}}`, then raw
 * little-endian data. We read F32, F16, I64, I32 and U8 and write F32, I32 and U8.
 */
export type SafeDType = 'F32' | 'F16' | 'I64' | 'I32' | 'U8';

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /** F32/F16 → Float32Array; I64/I32 → Int32Array (I64 narrowed, checked); U8 → Uint8Array */
  data: Float32Array | Int32Array | Uint8Array;
}

export interface SafeFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

export function parseSafetensors(buf: Uint8Array, source = 'safetensors buffer'): SafeFile {
  if (buf.byteLength < 8) throw new Error(`${source}: too short to be a safetensors file`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > buf.byteLength) {
    throw new Error(`${source}: header length ${headerLen} does not fit in ${buf.byteLength} bytes`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as { dtype: SafeDType; shape: number[]; data_offsets: [number, number] };
    const [b, e] = data_offsets;
    if (base + e > buf.byteLength || b > e) throw new Error(`${source}: tensor ${name} lies outside the file`);
    const n = shape.reduce((a, c) => a * c, 1);
    const bytes = buf.subarray(base + b, base + e);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let data: SafeTensor['data'];
    const need = { F32: 4, F16: 2, I64: 8, I32: 4, U8: 1 }[dtype];
    if (need === undefined) throw new Error(`${source}: tensor ${name} has unsupported dtype ${dtype}`);
    if (bytes.byteLength !== n * need) {
      throw new Error(`${source}: tensor ${name} has ${bytes.byteLength} bytes, shape ${JSON.stringify(shape)} needs ${n * need}`);
    }
    if (dtype === 'F32') {
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(i * 4, true);
    } else if (dtype === 'F16') {
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = halfToFloat(view.getUint16(i * 2, true));
    } else if (dtype === 'I64') {
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(i * 8, true);
        if (v > 2147483647n || v < -2147483648n) throw new Error(`${source}: ${name}[${i}] does not fit in int32`);
        data[i] = Number(v);
      }
    } else if (dtype === 'I32') {
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getInt32(i * 4, true);
    } else {
      data = new Uint8Array(bytes);
    }
    tensors.set(name, { dtype, shape, data });
  }
  return { metadata, tensors };
}

export function serializeSafetensors(
  tensors: Iterable<[string, { shape: number[]; data: Float32Array | Int32Array | Uint8Array }]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const dtype: SafeDType = t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : 'U8';
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.byteLength), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.byteLength;
  for (const part of parts) {
    out.set(part, p);
    p += part.byteLength;
  }
  return out;
}
