/**
 * A generated, labelled ImageFolder for tests: `perClass` PNGs per class, each class a different
 * dominant colour under seeded per-pixel noise and a random brightness, so a classifier must learn
 * the colour (chance = 1 / classes). Written to disk and/or returned as (key, bytes) pairs for S3.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '@cim-forge/random';

export const FIXTURE_CLASSES = ['blue', 'green', 'red'] as const;

export async function imageFolderFiles(perClass: number, side = 16, seed = 1): Promise<Map<string, Buffer>> {
  const rng = new Rng(seed);
  const files = new Map<string, Buffer>();
  for (const [c, cls] of FIXTURE_CLASSES.entries()) {
    // blue → channel 2, green → 1, red → 0
    const channel = 2 - c;
    for (let i = 0; i < perClass; i++) {
      const data = Buffer.alloc(side * side * 3);
      const level = 120 + Math.floor(rng.random() * 100);
      for (let p = 0; p < side * side; p++) {
        for (let ch = 0; ch < 3; ch++) {
          const base = ch === channel ? level : 60;
          data[p * 3 + ch] = Math.max(0, Math.min(255, Math.round(base + (rng.random() - 0.5) * 120)));
        }
      }
      files.set(
        `${cls}/${String(i).padStart(3, '0')}.png`,
        await sharp(data, { raw: { width: side, height: side, channels: 3 } })
          .png()
          .toBuffer(),
      );
    }
  }
  return files;
}

export async function writeImageFolder(dir: string, files: Map<string, Buffer>): Promise<void> {
  for (const [key, bytes] of files) {
    const path = join(dir, ...key.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
}
