import { LOWBIAS32, mixer32, Rng } from '@cim-forge/random';

/**
 * Deterministic randomness for data order and per-sample seeds. Pure 32-bit integer arithmetic,
 * so every process and thread computes the same numbers from the same seed.
 */

/** One round of libs/random's seed mixer with the lowbias32 constants (this lib's since its goldens): a bijection on uint32. */
export const mixUint32: (x: number) => number = mixer32(LOWBIAS32);

/**
 * Hashes a list of non-negative integers (each < 2^53) into one uint32 seed. Order matters:
 * hashSeeds(1, 2) !== hashSeeds(2, 1).
 */
export function hashSeeds(...parts: number[]): number {
  let h = 0x1b873593;
  for (const p of parts) {
    if (!Number.isSafeInteger(p)) throw new RangeError(`hashSeeds: ${p} is not a safe integer`);
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = mixUint32(h ^ lo);
    h = mixUint32(h ^ hi ^ 0x85ebca6b);
  }
  return h;
}

/** The seed handed to the sample function for one sample: a function of (seed, epoch, position). */
export function sampleSeed(seed: number, epoch: number, positionInEpoch: number): number {
  return hashSeeds(seed >>> 0, epoch, positionInEpoch);
}

/**
 * sfc32 (the shared `Rng` of libs/random) seeded from one uint32 via splitmix32, with this lib's
 * own seeding constants so data orders stay what they were when the goldens were recorded.
 */
export class SeededRandom extends Rng {
  constructor(seed: number) {
    const a = mixUint32(seed);
    const b = mixUint32(a ^ 0x243f6a88);
    const c = mixUint32(b ^ 0x13198a2e);
    super([a, b, c, 1]);
    // discard the first outputs so nearby seeds decorrelate
    for (let i = 0; i < 15; i++) this.nextUint32();
  }
}
