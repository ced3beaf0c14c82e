/**
 * One robustness evaluation (issue 7, part 3): clean top-1, FGSM and PGD top-1 at ε, and top-1
 * under common corruptions at several severities summarized as the mean corruption error. Works
 * on any `(normalized x) => logits` function and pixel images (uint8 0..255 or float 0..1).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fgsm, IMAGENET_NORMALIZATION, logitsOfPixels, pgd, type InputNormalization, type LogitsFn } from './attacks.ts';
import { corruptBatch, CORRUPTIONS, meanCorruptionError, toUnit, type CorruptionErrors, type CorruptionName } from './corruptions.ts';

export const ROBUSTNESS_REPORT_FORMAT = 'cim-forge/robustness-report@1';

export interface RobustnessOptions {
  /** logits [N, K] of normalized images [N, side, side, 3] (drop path off) */
  forward: LogitsFn;
  /** [N, side, side, 3] pixels: uint8 0..255 or float 0..1 */
  images: Uint8Array | Float32Array;
  labels: ArrayLike<number>;
  side: number;
  /** L∞ radius, pixel units of [0, 1]; 0 skips both attacks */
  eps: number;
  /** PGD steps (0 skips PGD) */
  pgdSteps: number;
  /** PGD step size in pixel units; default 2.5·ε / steps (Madry et al.) */
  pgdAlpha?: number;
  pgdRandomStart?: boolean;
  corruptions: readonly CorruptionName[];
  severities: readonly number[];
  batchSize?: number;
  seed?: number;
  normalization?: InputNormalization | null;
  /** a baseline model's errors per corruption and severity: mCE normalized by it when given */
  baseline?: CorruptionErrors;
  /** called after each batch of each stage */
  onProgress?(stage: string, done: number, total: number): void;
}

export interface RobustnessReport {
  format: typeof ROBUSTNESS_REPORT_FORMAT;
  images: number;
  clean: { top1: number };
  fgsm: { top1: number } | null;
  pgd: { top1: number } | null;
  /** corruption → severity → top-1 */
  corruptions: Record<string, Record<string, number>>;
  /** corruption → CE_c (see meanCorruptionError) */
  corruptionErrors: Record<string, number>;
  /** null when no corruption was evaluated */
  mCE: number | null;
  mceNormalization: 'baseline' | 'unnormalized' | null;
  settings: {
    eps: number;
    pgdSteps: number;
    pgdAlpha: number;
    pgdRandomStart: boolean;
    corruptions: string[];
    severities: number[];
    batchSize: number;
    seed: number;
    epsUnit: 'pixel [0,1]';
    normalization: InputNormalization | null;
  };
  seconds: number;
}

export async function evaluateRobustness(o: RobustnessOptions): Promise<RobustnessReport> {
  const n = o.labels.length;
  const s = o.side;
  const per = s * s * 3;
  if (n === 0) throw new Error('evaluateRobustness: no images');
  if (o.images.length !== n * per) throw new Error(`evaluateRobustness: ${o.images.length} pixel values for ${n} images of ${s}×${s}×3`);
  if (!(o.eps >= 0 && o.eps <= 1)) throw new Error(`evaluateRobustness: eps must be in [0, 1] (pixel units), got ${o.eps}`);
  if (!(Number.isInteger(o.pgdSteps) && o.pgdSteps >= 0))
    throw new Error(`evaluateRobustness: pgdSteps must be an integer >= 0, got ${o.pgdSteps}`);
  for (const sev of o.severities)
    if (!(Number.isInteger(sev) && sev >= 1 && sev <= 5)) throw new Error(`evaluateRobustness: severities are integers 1..5, got ${sev}`);
  for (const c of o.corruptions) if (!CORRUPTIONS.includes(c)) throw new Error(`evaluateRobustness: unknown corruption ${c}`);
  const batchSize = o.batchSize ?? 64;
  const seed = o.seed ?? 0;
  const norm = o.normalization === undefined ? IMAGENET_NORMALIZATION : o.normalization;
  const pgdAlpha = o.pgdAlpha ?? (o.pgdSteps > 0 ? (2.5 * o.eps) / o.pgdSteps : 0);
  const attack = o.eps > 0;
  const t0 = performance.now();

  const correct = { clean: 0, fgsm: 0, pgd: 0 };
  const corr: Record<string, Record<string, number>> = {};
  for (const c of o.corruptions) corr[c] = Object.fromEntries(o.severities.map((sev) => [String(sev), 0]));

  /** number of correct predictions of pixel images x [b, s, s, 3] */
  const countCorrect = async (x: tf.Tensor, labels: Int32Array): Promise<number> => {
    const pred = tf.tidy(() => tf.argMax(logitsOfPixels(o.forward, x, norm), 1));
    const p = await pred.data();
    pred.dispose();
    let k = 0;
    for (let i = 0; i < labels.length; i++) if (p[i] === labels[i]) k++;
    return k;
  };

  for (let i0 = 0; i0 < n; i0 += batchSize) {
    const b = Math.min(batchSize, n - i0);
    const labels = Int32Array.from({ length: b }, (_, k) => o.labels[i0 + k]);
    const raw = o.images.subarray(i0 * per, (i0 + b) * per);
    const x = tf.tensor4d(toUnit(raw), [b, s, s, 3]);
    const y = tf.tensor1d(labels, 'int32');
    try {
      correct.clean += await countCorrect(x, labels);
      if (attack) {
        const adv = fgsm(o.forward, x, y, { eps: o.eps, normalization: norm });
        correct.fgsm += await countCorrect(adv, labels);
        adv.dispose();
        if (o.pgdSteps > 0) {
          const adv2 = pgd(o.forward, x, y, {
            eps: o.eps,
            alpha: pgdAlpha,
            steps: o.pgdSteps,
            randomStart: o.pgdRandomStart,
            seed: seed + i0,
            normalization: norm,
          });
          correct.pgd += await countCorrect(adv2, labels);
          adv2.dispose();
        }
      }
    } finally {
      tf.dispose([x, y]);
    }
    o.onProgress?.('attacks', i0 + b, n);
    for (const c of o.corruptions) {
      for (const sev of o.severities) {
        // seeds by absolute image index: results do not depend on the batch size
        const img = corruptBatch(c, raw, b, s, s, sev, seed, i0);
        const xc = tf.tensor4d(img, [b, s, s, 3]);
        corr[c][String(sev)] += await countCorrect(xc, labels);
        xc.dispose();
      }
    }
    if (o.corruptions.length) o.onProgress?.('corruptions', i0 + b, n);
  }

  const top1: Record<string, Record<string, number>> = {};
  const errors: CorruptionErrors = {};
  for (const c of o.corruptions) {
    top1[c] = {};
    errors[c] = {};
    for (const sev of o.severities) {
      top1[c][String(sev)] = corr[c][String(sev)] / n;
      errors[c][String(sev)] = 1 - corr[c][String(sev)] / n;
    }
  }
  const mce = o.corruptions.length && o.severities.length ? meanCorruptionError(errors, o.baseline) : null;
  return {
    format: ROBUSTNESS_REPORT_FORMAT,
    images: n,
    clean: { top1: correct.clean / n },
    fgsm: attack ? { top1: correct.fgsm / n } : null,
    pgd: attack && o.pgdSteps > 0 ? { top1: correct.pgd / n } : null,
    corruptions: top1,
    corruptionErrors: mce?.perCorruption ?? {},
    mCE: mce?.mCE ?? null,
    mceNormalization: mce?.normalization ?? null,
    settings: {
      eps: o.eps,
      pgdSteps: o.pgdSteps,
      pgdAlpha,
      pgdRandomStart: o.pgdRandomStart ?? false,
      corruptions: [...o.corruptions],
      severities: [...o.severities],
      batchSize,
      seed,
      epsUnit: 'pixel [0,1]',
      normalization: norm,
    },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Top-1 table for people: one line per measure. */
export function formatRobustnessTable(r: RobustnessReport): string {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`.padStart(8);
  const lines = [`images       ${r.images}`, `clean top-1  ${pct(r.clean.top1)}`];
  if (r.fgsm) lines.push(`FGSM top-1   ${pct(r.fgsm.top1)}   (ε = ${fmtEps(r.settings.eps)})`);
  if (r.pgd)
    lines.push(
      `PGD top-1    ${pct(r.pgd.top1)}   (ε = ${fmtEps(r.settings.eps)}, ${r.settings.pgdSteps} steps of α ` +
        `= ${fmtEps(r.settings.pgdAlpha)}${r.settings.pgdRandomStart ? ', random start' : ''})`,
    );
  const names = Object.keys(r.corruptions);
  if (names.length) {
    const sev = r.settings.severities;
    const w = Math.max(14, ...names.map((c) => c.length + 2));
    lines.push(
      '',
      `${'corruption'.padEnd(w)}${sev.map((s) => `sev ${s}`.padStart(8)).join(' ')}  ${r.mceNormalization === 'baseline' ? 'CE (rel.)' : 'mean err'}`,
    );
    for (const c of names) {
      const ce = r.corruptionErrors[c];
      lines.push(
        `${c.padEnd(w)}${sev.map((s) => pct(r.corruptions[c][String(s)])).join(' ')}  ` +
          `${r.mceNormalization === 'baseline' ? ce.toFixed(3).padStart(8) : pct(ce)}`,
      );
    }
    lines.push(
      `mCE          ${
        r.mceNormalization === 'baseline'
          ? `${(100 * r.mCE!).toFixed(1)} (relative to the baseline = 100)`
          : `${pct(r.mCE!)} (unnormalized: mean top-1 error; no baseline given)`
      }`,
    );
  }
  return lines.join('\n');
}

function fmtEps(e: number): string {
  const k = e * 255;
  return Math.abs(k - Math.round(k)) < 1e-6 && k > 0 ? `${Math.round(k)}/255` : String(Number(e.toPrecision(4)));
}
