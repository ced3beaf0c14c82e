/**
 * WebAssembly SIMD kernels for the all-reduce's hot loops: float32 sums in rank order and the
 * bfloat16 wire's encode/decode. The module is assembled here, at load, from the instruction
 * listing below (no toolchain, nothing prebuilt to trust); V8 compiles it to SSE/AVX code.
 *
 * Every kernel does element-wise what the scalar JavaScript does, with the same float32
 * roundings (f32x4.add/mul/div round once, like Math.fround of a double sum, product or quotient
 * of two float32s: the double rounding is innocuous for +, ×, ÷), so the results are bit-identical
 * to the scalar loops (`sum-in-rank-order.test.ts` and `bfloat16.test.ts` compare them).
 *
 * The arrays live outside wasm memory, so the callers stream them through a small window of it,
 * CHUNK floats at a time (A, B → O; 3 × 64 KiB, in L2): TypedArray.set is a memcpy, so the extra
 * copies stay in cache and RAM sees each byte once, as in a native loop.
 */

/** floats per window region */
export const CHUNK = 16384;
const A = 0;
const B = CHUNK * 4;
const O = CHUNK * 8;
const PAGES = Math.ceil((CHUNK * 12) / 65536);

// ── a tiny assembler ────────────────────────────────────────────────────────────────────────────
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const I32_ADD = [0x6a];
const I32_LT_U = [0x49];
const simd = (op: number) => [0xfd, ...uleb(op)];
const load = (offset = 0) => [...simd(0x00), 4, ...uleb(offset)];
const store = (offset = 0) => [...simd(0x0b), 4, ...uleb(offset)];
const F32X4 = { splat: simd(0x13), add: simd(0xe4), mul: simd(0xe6), div: simd(0xe7) };
const I32X4 = {
  splat: simd(0x11),
  add: simd(0xae),
  shl: simd(0xab),
  shrU: simd(0xad),
  gtS: simd(0x3b),
  extendLowI16x8U: simd(0xa9),
  extendHighI16x8U: simd(0xaa),
};
const V = { and: simd(0x4e), or: simd(0x50), bitselect: simd(0x52) };
const I16X8_NARROW_I32X4_U = simd(0x86);

/**
 * do { body(i) ; i += step } while (i < n): params are byte offsets; `n` (param `nIdx`) > 0.
 * Local `iIdx` is the byte index.
 */
const loop = (iIdx: number, nIdx: number, step: number, body: number[]) => [
  0x03,
  0x40, // loop (no result)
  ...body,
  ...get(iIdx),
  ...i32c(step),
  ...I32_ADD,
  ...tee(iIdx),
  ...get(nIdx),
  ...I32_LT_U,
  0x0d,
  0, // br_if 0
  0x0b, // end
];
const at = (base: number, i: number) => [...get(base), ...get(i), ...I32_ADD];

interface Fn {
  name: string;
  params: number[];
  locals: number[];
  body: number[];
}

// o[i] = a[i] (op) b[i]; a, b, o, nBytes; op = add | mul | div, optional f32 scalar splat for the second step
function binary(name: string, first: number[] | undefined, second?: number[]): Fn {
  // params: a=0 b=1 o=2 n=3 [s=4]; locals: i
  const scalar = second !== undefined;
  const i = scalar ? 5 : 4;
  const s = 4;
  const operands = first ? [...at(0, i), ...load(), ...at(1, i), ...load(), ...first] : [...at(0, i), ...load()];
  const tail = scalar ? [...get(s), ...F32X4.splat, ...second] : [];
  return {
    name,
    params: scalar ? [I32, I32, I32, I32, F32] : [I32, I32, I32, I32],
    locals: [I32],
    body: loop(i, 3, 16, [...at(2, i), ...operands, ...tail, ...store()]),
  };
}

// bfloat16 encode: o (u16) ← round-to-nearest-even(a (u32 bits)); 8 values per step; a=0 o=1 n=2 (bytes of a)
function encodeBf16(): Fn {
  const [a, o, n, i, x] = [0, 1, 2, 3, 4];
  const one = (offset: number) => [
    ...at(a, i),
    ...load(offset),
    ...set(x),
    // bitselect(quiet NaN, rounded, isNaN)
    ...get(x),
    ...i32c(16),
    ...I32X4.shrU,
    ...i32c(0x40),
    ...I32X4.splat,
    ...V.or,
    ...get(x),
    ...i32c(0x7fff),
    ...I32X4.splat,
    ...I32X4.add,
    ...get(x),
    ...i32c(16),
    ...I32X4.shrU,
    ...i32c(1),
    ...I32X4.splat,
    ...V.and,
    ...I32X4.add,
    ...i32c(16),
    ...I32X4.shrU,
    ...get(x),
    ...i32c(0x7fffffff),
    ...I32X4.splat,
    ...V.and,
    ...i32c(0x7f800000),
    ...I32X4.splat,
    ...I32X4.gtS,
    ...V.bitselect,
  ];
  // o + i/2
  const dst = [...get(o), ...get(i), ...i32c(1), 0x76 /* i32.shr_u */, ...I32_ADD];
  return {
    name: 'encodeBf16',
    params: [I32, I32, I32],
    locals: [I32, V128],
    body: loop(i, n, 32, [...dst, ...one(0), ...one(16), ...I16X8_NARROW_I32X4_U, ...store()]),
  };
}

// bfloat16 decode: o (u32 bits) ← a (u16) << 16; 8 values per step; a=0 o=1 n=2 (bytes of a)
function decodeBf16(): Fn {
  const [a, o, n, i, x] = [0, 1, 2, 3, 4];
  const dst = [...get(o), ...get(i), ...i32c(1), 0x74 /* i32.shl */, ...I32_ADD];
  return {
    name: 'decodeBf16',
    params: [I32, I32, I32],
    locals: [I32, V128],
    body: loop(i, n, 16, [
      ...at(a, i),
      ...load(),
      ...set(x),
      ...dst,
      ...get(x),
      ...I32X4.extendLowI16x8U,
      ...i32c(16),
      ...I32X4.shl,
      ...store(0),
      ...dst,
      ...get(x),
      ...I32X4.extendHighI16x8U,
      ...i32c(16),
      ...I32X4.shl,
      ...store(16),
    ]),
  };
}

const FUNCTIONS: Fn[] = [
  binary('add', F32X4.add),
  binary('addMul', F32X4.add, F32X4.mul),
  binary('addDiv', F32X4.add, F32X4.div),
  binary('mul', undefined, F32X4.mul),
  binary('div', undefined, F32X4.div),
  encodeBf16(),
  decodeBf16(),
];

function assemble(fns: Fn[]): Uint8Array<ArrayBuffer> {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0]);
  const codes = fns.map((f) => {
    const body = [...vec(f.locals.map((t) => [1, t])), ...f.body, 0x0b];
    return [...uleb(body.length), ...body];
  });
  const name = (s: string) => vec([...Buffer.from(s, 'utf8')].map((b) => [b]));
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(PAGES)]])),
    ...section(7, vec([[...name('memory'), 0x02, 0], ...fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vec(codes)),
  ]);
}

type Kernels = {
  add(a: number, b: number, o: number, n: number): void;
  addMul(a: number, b: number, o: number, n: number, s: number): void;
  addDiv(a: number, b: number, o: number, n: number, s: number): void;
  mul(a: number, b: number, o: number, n: number, s: number): void;
  div(a: number, b: number, o: number, n: number, s: number): void;
  encodeBf16(a: number, o: number, n: number): void;
  decodeBf16(a: number, o: number, n: number): void;
};

export const WASM_BYTES = assemble(FUNCTIONS);

function instantiate(): { k: Kernels; f32: Float32Array; u16: Uint16Array } | undefined {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(WASM_BYTES));
    const memory = instance.exports.memory as WebAssembly.Memory;
    return { k: instance.exports as unknown as Kernels, f32: new Float32Array(memory.buffer), u16: new Uint16Array(memory.buffer) };
  } catch {
    return undefined; // no WebAssembly SIMD (very old V8): the scalar loops
  }
}

const compiled = instantiate();
/** the kernels while they are in use (`useSimdKernels(false)` turns them off for this process) */
let wasm = compiled;

/** whether the SIMD kernels are in use (`useSimdKernels(false)`, or a runtime without WebAssembly SIMD: the scalar loops) */
export let simdAvailable = wasm !== undefined;

/**
 * Use the SIMD kernels (the default, where the runtime has WebAssembly SIMD) or the scalar loops
 * from now on, in this process: a benchmark's switch (`CIM_SIMD=off` in `npm run bench:allreduce`).
 */
export function useSimdKernels(on: boolean): void {
  wasm = on ? compiled : undefined;
  simdAvailable = wasm !== undefined;
}

/** below this many elements the scalar loops win (no window copies, no call overhead) */
export const SIMD_MIN = 1024;

const round4 = (n: number) => (n + 3) & ~3;

/**
 * out = (((parts[0] + parts[1]) + …) + parts[N−1]) (× inverse | ÷ divisor), N ≥ 1, float32 roundings
 * as sumInRankOrder documents. Returns false when SIMD is unavailable (the caller loops).
 */
export function simdSum(parts: readonly Float32Array[], out: Float32Array, inverse: number, divisor: number): boolean {
  if (!wasm) return false;
  const { k, f32 } = wasm;
  const N = parts.length;
  const n = out.length;
  const last = (a: number, b: number, bytes: number) => {
    if (divisor === 1) k.add(a, b, O, bytes);
    else if (inverse) k.addMul(a, b, O, bytes, inverse);
    else k.addDiv(a, b, O, bytes, divisor);
  };
  for (let off = 0; off < n; off += CHUNK) {
    const len = Math.min(CHUNK, n - off);
    const bytes = round4(len) * 4;
    const end = off + len;
    f32.set(parts[0].subarray(off, end), A / 4);
    if (N === 1) {
      if (inverse) k.mul(A, 0, O, bytes, inverse);
      else k.div(A, 0, O, bytes, divisor);
    } else {
      f32.set(parts[1].subarray(off, end), B / 4);
      if (N === 2) last(A, B, bytes);
      else {
        k.add(A, B, O, bytes);
        for (let s = 2; s < N; s++) {
          f32.set(parts[s].subarray(off, end), B / 4);
          if (s < N - 1) k.add(O, B, O, bytes);
          else last(O, B, bytes);
        }
      }
    }
    out.set(f32.subarray(O / 4, O / 4 + len), off);
  }
  return true;
}

/** bfloat16 bits of `values` (round to nearest even; NaN stays NaN); false when SIMD is unavailable */
export function simdEncodeBf16(values: Float32Array, out: Uint16Array): boolean {
  if (!wasm) return false;
  const { k, f32, u16 } = wasm;
  const n = values.length;
  for (let off = 0; off < n; off += CHUNK) {
    const len = Math.min(CHUNK, n - off);
    f32.set(values.subarray(off, off + len), A / 4);
    k.encodeBf16(A, O, ((len + 7) & ~7) * 4);
    out.set(u16.subarray(O / 2, O / 2 + len), off);
  }
  return true;
}

/** float32 values of bfloat16 `bits` (exact); false when SIMD is unavailable */
export function simdDecodeBf16(bits: Uint16Array, out: Float32Array): boolean {
  if (!wasm) return false;
  const { k, f32, u16 } = wasm;
  const n = bits.length;
  for (let off = 0; off < n; off += CHUNK) {
    const len = Math.min(CHUNK, n - off);
    u16.set(bits.subarray(off, off + len), A / 2);
    k.decodeBf16(A, O, ((len + 7) & ~7) * 2);
    out.set(f32.subarray(O / 4, O / 4 + len), off);
  }
  return true;
}
