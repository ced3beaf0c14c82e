import { checkIndex, type ImageSource, type RgbImage } from './image-source.ts';
import { hashSeeds, SeededRandom } from './seeded-random.ts';

export interface SyntheticOptions {
  size: number;
  /** side of the square images, px */
  imageSize: number;
  seed: number;
}

/** label = the pattern filling the largest object in the image */
export const SYNTHETIC_CLASSES = ['flat', 'stripes', 'checker', 'rings'] as const;

type Rgb = [number, number, number];

/**
 * Deterministic generated images with structure a correlation model can latch onto: a linear
 * colour gradient background, 3-6 objects (rectangles and ellipses, largest first) each filled
 * with a flat colour, stripes, a checkerboard or rings in two colours, and mild pixel noise.
 * Image i depends only on (seed, i, imageSize). Roughly 1 ms per 64×64 image.
 */
export function syntheticSource(opts: SyntheticOptions): ImageSource {
  const { size, imageSize, seed } = opts;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`syntheticSource: bad size ${size}`);
  if (!Number.isInteger(imageSize) || imageSize < 4) throw new RangeError(`syntheticSource: bad imageSize ${imageSize}`);
  const source: ImageSource = {
    name: `synthetic(seed=${seed},size=${size},${imageSize}px)`,
    size,
    numClasses: SYNTHETIC_CLASSES.length,
    classNames: [...SYNTHETIC_CLASSES],
    get(index: number): RgbImage {
      checkIndex(source, index);
      return renderSynthetic(seed, index, imageSize).image;
    },
    label(index: number): number {
      checkIndex(source, index);
      return firstPattern(seed, index);
    },
  };
  return source;
}

function imageRng(seed: number, index: number): SeededRandom {
  return new SeededRandom(hashSeeds(seed >>> 0, index, 0x5717));
}

/** The pattern of the first (largest) object, drawn from the same stream as renderSynthetic. */
function firstPattern(seed: number, index: number): number {
  const rng = imageRng(seed, index);
  rng.random(); // background angle
  randomColour(rng);
  randomColour(rng);
  rng.int(3, 7); // object count
  return rng.int(0, SYNTHETIC_CLASSES.length);
}

function randomColour(rng: SeededRandom): Rgb {
  return [rng.int(0, 256), rng.int(0, 256), rng.int(0, 256)];
}

/** Image and label together (the label is also derivable cheaply, see `firstPattern`). */
export function renderSynthetic(seed: number, index: number, n: number): { image: RgbImage; label: number } {
  const rng = imageRng(seed, index);
  const data = new Uint8Array(n * n * 3);
  // background: a linear gradient between two colours along a random direction
  const angle = rng.random() * 2 * Math.PI;
  const c0 = randomColour(rng);
  const c1 = randomColour(rng);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const span = (Math.abs(dx) + Math.abs(dy)) * n;
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const t = Math.min(1, Math.max(0, ((x - n / 2) * dx + (y - n / 2) * dy) / span + 0.5));
      const o = (y * n + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = c0[c] + (c1[c] - c0[c]) * t;
    }
  }
  const count = rng.int(3, 7);
  let label = 0;
  for (let k = 0; k < count; k++) {
    const pattern = rng.int(0, SYNTHETIC_CLASSES.length);
    if (k === 0) label = pattern;
    const colourA = randomColour(rng);
    const colourB = randomColour(rng);
    // objects shrink: the first covers 35-60% of the side, later ones 12-35%
    const side = k === 0 ? rng.uniform(0.35, 0.6) : rng.uniform(0.12, 0.35);
    const w = Math.max(2, Math.round(side * n * rng.uniform(0.7, 1.3)));
    const h = Math.max(2, Math.round(side * n * rng.uniform(0.7, 1.3)));
    const x0 = rng.int(-Math.floor(w / 4), n - Math.floor((3 * w) / 4));
    const y0 = rng.int(-Math.floor(h / 4), n - Math.floor((3 * h) / 4));
    const ellipse = rng.random() < 0.5;
    const period = Math.max(2, Math.round(n * rng.uniform(0.04, 0.12)));
    const stripeAngle = rng.random() * Math.PI;
    const sx = Math.cos(stripeAngle);
    const sy = Math.sin(stripeAngle);
    for (let y = Math.max(0, y0); y < Math.min(n, y0 + h); y++) {
      for (let x = Math.max(0, x0); x < Math.min(n, x0 + w); x++) {
        const u = (x - x0 + 0.5) / w - 0.5;
        const v = (y - y0 + 0.5) / h - 0.5;
        if (ellipse && u * u + v * v > 0.25) continue;
        let useB = false;
        if (pattern === 1) useB = Math.floor((x * sx + y * sy) / period) % 2 !== 0;
        else if (pattern === 2) useB = (Math.floor((x - x0) / period) + Math.floor((y - y0) / period)) % 2 !== 0;
        else if (pattern === 3) useB = Math.floor(Math.sqrt(u * u * w * w + v * v * h * h) / period) % 2 !== 0;
        const col = useB ? colourB : colourA;
        const o = (y * n + x) * 3;
        data[o] = col[0];
        data[o + 1] = col[1];
        data[o + 2] = col[2];
      }
    }
  }
  // mild noise (±8) so flat areas are not perfectly constant
  for (let i = 0; i < data.length; i++) {
    const v = data[i] + rng.int(-8, 9);
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { image: { width: n, height: n, data }, label };
}
