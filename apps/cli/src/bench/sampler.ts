/**
 * Sampler throughput, one core: `npm run bench:sampler [-- --seconds 3]`.
 * Prints one JSON line per config. Reference: the authors' PIL/torchvision pipeline
 * (CorrlationDataset.__getitem__) does about 21 samples/s on one core at official sizes.
 */
import {
  Rng,
  deriveSeed,
  officialSamplerConfig,
  sampleCim,
  smallSamplerConfig,
  type RgbImage,
  type SamplerConfig,
  noiseImage,
  smoothTestImage,
} from '@cim-forge/cim/config';

const REFERENCE_SAMPLES_PER_SEC = 21;

function parseSeconds(argv: string[]): number {
  const i = argv.indexOf('--seconds');
  const v = i >= 0 ? Number(argv[i + 1]) : 3;
  if (!(v > 0)) throw new Error(`--seconds must be a positive number, got ${argv[i + 1]}`);
  return v;
}

/** Photo-like images: smooth structure plus texture, different per index. */
function photoLike(width: number, height: number, count: number): RgbImage[] {
  return Array.from({ length: count }, (_, k) => {
    const smooth = smoothTestImage(width, height, 10 + 10 * k);
    const noise = noiseImage(width, height, k + 1);
    const data = smooth.data.map((v, i) => Math.round(0.75 * v + 0.25 * noise.data[i]));
    return { width, height, data };
  });
}

/** Fashion-MNIST-like: 28×28 grayscale replicated to RGB. */
function mnistLike(count: number): RgbImage[] {
  return Array.from({ length: count }, (_, k) => {
    const g = noiseImage(28, 28, 100 + k);
    const data = new Uint8Array(28 * 28 * 3);
    for (let p = 0; p < 28 * 28; p++) data[p * 3] = data[p * 3 + 1] = data[p * 3 + 2] = g.data[p * 3];
    return { width: 28, height: 28, data };
  });
}

function bench(name: string, images: RgbImage[], cfg: SamplerConfig, seconds: number): void {
  const rng = new Rng(deriveSeed(0, 1));
  for (let i = 0; i < 20; i++) sampleCim(images[i % images.length], cfg, rng); // warm up the JIT
  let n = 0;
  let masked = 0; // consume the output so no work can be skipped
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const s = sampleCim(images[n % images.length], cfg, rng);
    masked += s.masks[n % s.masks.length];
    n++;
  }
  const elapsed = (performance.now() - t0) / 1000;
  if (masked < 0) throw new Error('unreachable');
  const rate = n / elapsed;
  const img = images[0];
  console.log(
    JSON.stringify({
      bench: 'sampler',
      config: name,
      samplesPerSecPerCore: Math.round(rate * 10) / 10,
      msPerSample: Math.round((1000 / rate) * 100) / 100,
      exemplars: cfg.numExemplars,
      searchSize: cfg.searchSize,
      contextSize: cfg.contextSize,
      exemplarSize: cfg.exemplarSize,
      image: `${img.width}x${img.height}`,
      samples: n,
      seconds: Math.round(elapsed * 100) / 100,
      vsReference: name === 'official' ? Math.round((rate / REFERENCE_SAMPLES_PER_SEC) * 100) / 100 : undefined,
      node: process.version,
    }),
  );
}

const seconds = parseSeconds(process.argv.slice(2));
bench('official', photoLike(500, 375, 4), officialSamplerConfig, seconds);
bench('small', mnistLike(16), smallSamplerConfig, seconds);
