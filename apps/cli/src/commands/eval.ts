import { parseArgs } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  CORRUPTIONS,
  evaluateRobustness,
  formatRobustnessTable,
  isCorruption,
  loadImageClassifierFile,
  loadLabelledImages,
  type CorruptionErrors,
  type CorruptionName,
  type RobustnessReport,
} from '@cim-forge/engine';
import { initCliBackend, num, UsageError } from '../args.ts';
import { labelledDataFlags, resolveFrom, valFractionFlag } from '../labelled-data.ts';
import { folderOf, folderSpec } from '../dataset-arg.ts';
import type { FolderSplit, SourceSpec } from '@cim-forge/data';

const help = `Usage: npm run cim -- eval --from RUN_DIR|FILE.safetensors --dataset fashion-mnist|DIR [options]

Robustness of a fine-tuned classifier on the held-out split: clean top-1; top-1 under FGSM and
PGD (L∞, white-box, cross-entropy) at radius ε; top-1 under common corruptions (Hendrycks &
Dietterich, CIFAR-10-C parameters) at each severity, summarized as the mean corruption error.
Prints a table on stderr and one JSON report on stdout (and to --out).

ε and α are in pixel units of [0, 1] (the paper's convention: 1/255 is one 8-bit level); the
attack works on pixels, the model sees them ImageNet-normalized, and every step is clipped to the
ε-ball and to [0, 1].

  --from X              a fine-tuning RUN_DIR (its latest checkpoint), a checkpoint directory, or a model.safetensors
  --dataset D           fashion-mnist (the test split), or an ImageFolder DIR/<class>/<images> (or
                        s3://bucket/prefix): its held-out part (DIR/val/, else the seeded --val-fraction
                        of each class the fine-tune held out, default 0.2), labelled as in training
  --split S             val (default) | train | all: which part of a folder
  --limit N             first N test images of fashion-mnist (default 1000; 0 = all 10000)
  --eps E               attack radius, e.g. 2/255 or 0.008 (default 1/255; 0 = no attacks)
  --pgd-steps K         PGD steps (default 10; 0 = no PGD)
  --pgd-alpha A         PGD step size, e.g. 0.5/255 (default 2.5·ε/K, Madry et al.)
  --random-start        PGD starts at a uniform random point of the ε-ball
  --corruptions a,b     any of ${CORRUPTIONS.join(', ')} (default all); "none" skips them
  --severities 1,3,5    severities 1..5 (default 1,2,3,4,5)
  --baseline FILE       an earlier eval report (e.g. the scratch model's): mCE is then normalized by its
                        errors (1.0 = as robust as the baseline); without it, mCE is the mean top-1 error
  --batch-size N (64)   --seed N (0: the corruption noise)
  --out FILE            also write the JSON report there
  --backend B           auto | tensorflow | wasm | cpu | webgpu (with --webgpu-adapter gpu|software)

Example: npm run cim -- eval --from runs/ft --dataset fashion-mnist --limit 500 --eps 2/255 --severities 1,3,5`;

/** "2/255", "0.008": a number in [0, 1]. */
export function parseFraction(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*([0-9.eE+-]+)\s*(?:\/\s*([0-9.eE+-]+))?\s*$/.exec(v);
  const x = m ? Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2])) : NaN;
  if (!Number.isFinite(x) || x < 0 || x > 1)
    throw new UsageError(`--${flag} must be a number in [0, 1] in pixel units, like 2/255 or 0.008, got "${v}"`);
  return x;
}

export function parseCorruptions(v: string | undefined): CorruptionName[] {
  if (v === undefined) return [...CORRUPTIONS];
  if (v === 'none') return [];
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!isCorruption(n)) throw new UsageError(`--corruptions: unknown "${n}"; choose from ${CORRUPTIONS.join(', ')} (or none)`);
  if (names.length === 0) throw new UsageError('--corruptions is empty (say none to skip them)');
  return [...new Set(names)] as CorruptionName[];
}

export function parseSeverities(v: string | undefined): number[] {
  if (v === undefined) return [1, 2, 3, 4, 5];
  const s = v.split(',').map((t) => Number(t.trim()));
  if (s.length === 0 || s.some((x) => !Number.isInteger(x) || x < 1 || x > 5))
    throw new UsageError(`--severities must be integers 1..5 separated by commas, got "${v}"`);
  return [...new Set(s)].sort((a, b) => a - b);
}

async function readBaseline(path: string): Promise<CorruptionErrors> {
  let r: RobustnessReport;
  try {
    r = JSON.parse(await readFile(path, 'utf8')) as RobustnessReport;
  } catch (e) {
    throw new UsageError(`--baseline ${path}: ${(e as Error).message}`);
  }
  if (!r.corruptions) throw new UsageError(`--baseline ${path}: not an eval report (no "corruptions")`);
  return Object.fromEntries(
    Object.entries(r.corruptions).map(([c, s]) => [c, Object.fromEntries(Object.entries(s).map(([k, v]) => [k, 1 - v]))]),
  );
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      ...labelledDataFlags('from', 'dataset', 'limit', 'val-fraction'),
      split: { type: 'string' },
      eps: { type: 'string' },
      'pgd-steps': { type: 'string' },
      'pgd-alpha': { type: 'string' },
      'random-start': { type: 'boolean' },
      corruptions: { type: 'string' },
      severities: { type: 'string' },
      baseline: { type: 'string' },
      'batch-size': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  if (values.from === undefined) throw new UsageError('--from is required: a fine-tuning run directory or a model.safetensors');
  const dataset = values.dataset ?? 'fashion-mnist';
  if (dataset === 'synthetic') throw new UsageError('--dataset synthetic has no labels: use fashion-mnist or an ImageFolder directory');
  const split = (values.split ?? 'val') as FolderSplit;
  if (!['val', 'train', 'all'].includes(split)) throw new UsageError(`--split must be val, train or all, got "${values.split}"`);
  const valFraction = valFractionFlag(values['val-fraction']);
  const folder = await folderOf('dataset', dataset);
  if (folder === undefined && (values.split !== undefined || valFraction !== undefined))
    throw new UsageError('--split and --val-fraction apply to an ImageFolder');
  if (folder !== undefined && values.limit !== undefined)
    throw new UsageError("--limit applies to fashion-mnist; a folder's whole held-out part is scored");
  const eps = parseFraction('eps', values.eps) ?? 1 / 255;
  const pgdSteps = num('pgd-steps', values['pgd-steps'], { int: true, min: 0 }) ?? 10;
  const pgdAlpha = parseFraction('pgd-alpha', values['pgd-alpha']);
  const corruptions = parseCorruptions(values.corruptions);
  const severities = parseSeverities(values.severities);
  const limit = num('limit', values.limit, { int: true, min: 0 }) ?? 1000;
  const batchSize = num('batch-size', values['batch-size'], { int: true, min: 1 }) ?? 64;
  const seed = num('seed', values.seed, { int: true, min: 0 }) ?? 0;
  const baseline = values.baseline === undefined ? undefined : await readBaseline(values.baseline);
  if (baseline) {
    for (const c of corruptions)
      for (const s of severities) {
        if (baseline[c]?.[String(s)] === undefined)
          throw new UsageError(`--baseline lacks ${c} at severity ${s}: evaluate both with the same --corruptions and --severities`);
      }
  }
  const from = await resolveFrom(values.from);
  if (from === null) throw new UsageError('--from scratch: eval needs a fine-tuned classifier (run `cim finetune` first)');

  const backend = await initCliBackend(values.backend);
  const model = await loadImageClassifierFile(from);
  try {
    const side = model.config.imgSize;
    const spec: SourceSpec =
      folder !== undefined
        ? folderSpec(folder, split, valFraction)
        : { kind: 'fashion-mnist', split: 'test', ...(limit > 0 ? { limit } : {}) };
    const data = await loadLabelledImages(spec, side);
    if (data.numClasses > model.config.numClasses)
      throw new UsageError(`${from} has ${model.config.numClasses} classes, ${data.name} ${data.numClasses}`);
    console.error(`backend      ${backend.name} (${backend.detail})`);
    console.error(`model        ${resolve(from)} (${model.config.numClasses} classes, ${side} px)`);
    console.error(`data         ${data.name}, ${data.size} images, ${data.numClasses} classes`);
    const report = await evaluateRobustness({
      forward: (x) => model.forward(x as tf.Tensor4D),
      images: data.pixels,
      labels: data.labels,
      side,
      eps,
      pgdSteps,
      pgdAlpha,
      pgdRandomStart: values['random-start'] ?? false,
      corruptions,
      severities,
      batchSize,
      seed,
      baseline,
    });
    const full = { from: resolve(from), dataset: folder !== undefined ? data.name : `${data.name}/test`, ...report };
    console.error(`\n${formatRobustnessTable(report)}\n(${report.seconds.toFixed(1)} s)`);
    const json = JSON.stringify(full);
    if (values.out) {
      await writeFile(values.out, JSON.stringify(full, null, 2) + '\n');
      console.error(`report       ${resolve(values.out)}`);
    }
    console.log(json);
  } finally {
    model.dispose();
  }
  return 0;
}
