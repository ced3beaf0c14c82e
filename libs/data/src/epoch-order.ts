import { hashSeeds, SeededRandom } from './seeded-random.ts';

/**
 * The permutation of 0..size-1 for one epoch: a Fisher-Yates shuffle seeded by (seed, epoch),
 * identical on every rank.
 */
export function epochPermutation(size: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`epochPermutation: bad size ${size}`);
  if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epochPermutation: bad epoch ${epoch}`);
  const perm = new Uint32Array(size);
  for (let i = 0; i < size; i++) perm[i] = i;
  const rng = new SeededRandom(hashSeeds(seed >>> 0, epoch, 0x5eed));
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(rng.random() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/** How many samples each rank gets per epoch: the tail that would make shards unequal is dropped. */
export function shardSize(size: number, worldSize = 1): number {
  return Math.floor(size / worldSize);
}

/**
 * Rank `rank`'s share of the epoch: perm[rank], perm[rank + W], perm[rank + 2W], ... for
 * floor(size / W) entries, so shards are disjoint, equally long, and together cover all but the
 * last size mod W entries of the permutation. Shard position k is permutation position
 * rank + k * W (`shardPositionInEpoch`).
 */
export function epochOrder(size: number, seed: number, epoch: number, rank = 0, worldSize = 1): Uint32Array {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new RangeError(`epochOrder: bad worldSize ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`epochOrder: rank ${rank} not in [0, ${worldSize})`);
  }
  const perm = epochPermutation(size, seed, epoch);
  if (worldSize === 1) return perm;
  const n = shardSize(size, worldSize);
  const shard = new Uint32Array(n);
  for (let k = 0; k < n; k++) shard[k] = perm[rank + k * worldSize];
  return shard;
}

/** Position in the epoch's global permutation of shard entry k on `rank`. */
export function shardPositionInEpoch(k: number, rank = 0, worldSize = 1): number {
  return rank + k * worldSize;
}
