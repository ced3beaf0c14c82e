import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSafetensors, serializeSafetensors } from './safetensors.ts';

/** A file written by hand: the 8-byte header length, the JSON header, then the raw bytes. */
function handMade(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

test('serialize → parse round-trips F32, I32 and U8 tensors and the metadata; the data starts 8-byte aligned', () => {
  const buf = serializeSafetensors(
    [
      ['w', { shape: [2, 2], data: Float32Array.from([1, -2.5, 3e-7, 4]) }],
      ['i', { shape: [3], data: Int32Array.from([-1, 0, 2147483647]) }],
      ['u', { shape: [2], data: Uint8Array.from([0, 255]) }],
    ],
    { architecture: 'cim-vit', depth: '2' },
  );
  const headerLen = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0);
  assert.equal(buf.byteLength, 8 + headerLen + 16 + 12 + 2);
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen)));
  assert.deepEqual(header.w, { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
  assert.deepEqual(header.i, { dtype: 'I32', shape: [3], data_offsets: [16, 28] });
  assert.deepEqual(header.u, { dtype: 'U8', shape: [2], data_offsets: [28, 30] });

  const f = parseSafetensors(buf);
  assert.deepEqual(f.metadata, { architecture: 'cim-vit', depth: '2' });
  assert.deepEqual([...f.tensors.keys()], ['w', 'i', 'u']);
  const w = f.tensors.get('w')!;
  assert.equal(w.dtype, 'F32');
  assert.deepEqual(w.shape, [2, 2]);
  assert.deepEqual(Array.from(w.data), Array.from(Float32Array.from([1, -2.5, 3e-7, 4])));
  assert.ok(f.tensors.get('i')!.data instanceof Int32Array);
  assert.deepEqual(Array.from(f.tensors.get('i')!.data), [-1, 0, 2147483647]);
  assert.deepEqual(Array.from(f.tensors.get('u')!.data), [0, 255]);
});

test('reads F16 (normal, negative, subnormal, infinity) into float32 and narrows I64 to int32', () => {
  const half = new Uint8Array(8);
  const hv = new DataView(half.buffer);
  [0x3c00, 0xc000, 0x0001, 0x7c00].forEach((h, i) => hv.setUint16(2 * i, h, true));
  const longs = new Uint8Array(16);
  const lv = new DataView(longs.buffer);
  lv.setBigInt64(0, -7n, true);
  lv.setBigInt64(8, 123456789n, true);
  const data = new Uint8Array(24);
  data.set(half, 0);
  data.set(longs, 8);
  const header = { h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] }, l: { dtype: 'I64', shape: [2], data_offsets: [8, 24] } };
  const f = parseSafetensors(handMade(header, data));
  assert.deepEqual(Array.from(f.tensors.get('h')!.data), [1, -2, 2 ** -24, Infinity]);
  assert.deepEqual(Array.from(f.tensors.get('l')!.data), [-7, 123456789]);
  assert.deepEqual(f.metadata, {});
});

test('a damaged file is refused with the reason', () => {
  assert.throws(() => parseSafetensors(new Uint8Array(5), 'x.safetensors'), /x\.safetensors: too short/);
  const tooLong = new Uint8Array(16);
  new DataView(tooLong.buffer).setBigUint64(0, 100n, true);
  assert.throws(() => parseSafetensors(tooLong), /header length 100 does not fit in 16 bytes/);
  assert.throws(
    () => parseSafetensors(handMade({}, new Uint8Array(0)).map((b, i) => (i === 8 ? 0x20 : i === 9 ? 0x5b : b))),
    /not valid JSON/,
  );
  const big = new Uint8Array(8);
  new DataView(big.buffer).setBigInt64(0, 2n ** 40n, true);
  assert.throws(
    () => parseSafetensors(handMade({ l: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, big)),
    /l\[0\] does not fit in int32/,
  );
  const one = (dtype: string, shape: number[], end: number, bytes: number) =>
    handMade({ t: { dtype, shape, data_offsets: [0, end] } }, new Uint8Array(bytes));
  assert.throws(() => parseSafetensors(one('F32', [3], 8, 8)), /t has 8 bytes, shape \[3\] needs 12/);
  assert.throws(() => parseSafetensors(one('F32', [4], 16, 8)), /t lies outside the file/);
  assert.throws(() => parseSafetensors(one('BF16', [1], 2, 2)), /unsupported dtype BF16/);
});
