/**
 * A small seedable PRNG (sfc32, Chris Doty-Humphrey's "small fast counting" generator) whose whole
 * state is four uint32 words, so it can be saved in a checkpoint and restored bit-exactly.
 */
export type RngState = [number, number, number, number];

/**
 * The constants of a splitmix32-style output mixer: x ^= x >>> s1; x *= m1; x ^= x >>> s2; x *= m2;
 * x ^= x >>> s3. Two sets are in use, each fixed forever by the streams recorded with it.
 */
export interface Mix32Constants {
  m1: number;
  m2: number;
  s1: number;
  s2: number;
  s3: number;
}

/** MurmurHash3's fmix32: the constants of `mix32` (model init, sampler and augmentation seeds) */
export const MURMUR3_FMIX32: Mix32Constants = { m1: 0x85ebca6b, m2: 0xc2b2ae35, s1: 16, s2: 13, s3: 16 };
/** Chris Wellons' lowbias32: the constants of libs/data's seeds (data order, per-sample seeds, synthetic images) */
export const LOWBIAS32: Mix32Constants = { m1: 0x21f0aaad, m2: 0x735a2d97, s1: 16, s2: 15, s3: 15 };

/**
 * The one seed mixer: splitmix32's golden-ratio step, then the output mixer with constants `k`.
 * A bijection on uint32 that turns any 32-bit integer into a well-mixed seed.
 */
export function mixer32(k: Mix32Constants): (x: number) => number {
  const { m1, m2, s1, s2, s3 } = k;
  return (x: number) => {
    x = (x + 0x9e3779b9) | 0;
    x = Math.imul(x ^ (x >>> s1), m1);
    x = Math.imul(x ^ (x >>> s2), m2);
    return (x ^ (x >>> s3)) >>> 0;
  };
}

/** splitmix32 with MurmurHash3's finaliser: turns any 32-bit integers into well-mixed seeds. */
export const mix32: (x: number) => number = mixer32(MURMUR3_FMIX32);

/** A seed derived from several integers (e.g. run seed, epoch, sample index, rank). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) h = mix32(h ^ mix32(p | 0) ^ mix32(Math.floor(p / 2 ** 32)));
  return h;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | RngState) {
    if (Array.isArray(seed)) {
      [this.a, this.b, this.c, this.d] = seed.map((v) => v >>> 0) as RngState;
      return;
    }
    this.a = mix32(seed);
    this.b = mix32(this.a ^ 0x6a09e667);
    this.c = mix32(this.b ^ 0xbb67ae85);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  random(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Integer uniform in [lo, hi) (hi exclusive), like Python's random.randint(lo, hi - 1). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo));
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  /** Log-uniform in [lo, hi): exp(uniform(log lo, log hi)), as torchvision samples aspect ratios. */
  logUniform(lo: number, hi: number): number {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(xs: T[] | Int32Array | Uint32Array): typeof xs {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = xs[i];
      xs[i] = xs[j];
      xs[j] = t;
    }
    return xs;
  }

  getState(): RngState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  setState(s: RngState): void {
    [this.a, this.b, this.c, this.d] = s.map((v) => v | 0) as RngState;
  }
}
