import { parseArgs } from 'node:util';
import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  Rng,
  cimModelConfigFromMetadata,
  cimModelFromConfig,
  parseSafetensors,
  sampleCim,
  samplerConfig,
  type SamplerConfig,
} from '@cim-forge/cim';
import { parseRunConfig, type PretrainConfig, samplerConfigOf } from '@cim-forge/config';
import { drawCorrelationFigure, LocalCheckpointStore, loadModelSafetensors } from '@cim-forge/engine';
import { decodeRgb, openSource, type RgbImage } from '@cim-forge/data';
import { initCliBackend, num, UsageError, cliSettings } from '../args.ts';
import { folderOf } from '../dataset-arg.ts';

const help = `Usage: npm run cim -- visualize --checkpoint PATH (--image FILE | --dataset D --index N) [options]

Draws the paper's figure for any image: each exemplar cut from it, the context with the exemplar's
true region outlined, and the model's predicted correlation map as a heatmap over the context.

  --checkpoint PATH   a pretrain --out directory (its latest checkpoint), one checkpoint
                      directory, or a model .safetensors file
  --image FILE        a JPEG/PNG/WebP image                  or
  --dataset D         fashion-mnist | synthetic | an ImageFolder DIR (or s3://bucket/prefix), with
                      --index N (default 0; fashion-mnist uses its held-out test split, a folder
                      its images in class order)
  --out FILE.png      where to write the figure (default maps.png)
  --seed N            which exemplars are cut (default 0)
  --no-augment        exemplars without colour augmentation (geometry only)
  --scale K           pixel upscaling of the figure (default: fit contexts to ~192 px)
  --backend B         auto | tensorflow | wasm | cpu | webgpu (with --webgpu-adapter gpu|software)`;

async function findModelFile(p: string): Promise<{ file: string; config?: PretrainConfig }> {
  const path = resolve(p);
  if (!existsSync(path)) throw new UsageError(`--checkpoint ${p}: no such file or directory`);
  if (statSync(path).isFile()) return { file: path };
  let dir = path;
  if (existsSync(join(path, 'checkpoints'))) {
    const list = await new LocalCheckpointStore(join(path, 'checkpoints')).list();
    if (list.length === 0) throw new UsageError(`--checkpoint ${p}: the run has no complete checkpoint yet`);
    dir = join(path, 'checkpoints', list[list.length - 1].id);
  }
  const file = join(dir, 'model.safetensors');
  if (!existsSync(file)) throw new UsageError(`--checkpoint ${p}: no model.safetensors in ${dir}`);
  const statePath = join(dir, 'state.json');
  if (!existsSync(statePath)) return { file };
  // the run's config as the checkpoint saved it, parsed with the run contract
  try {
    return { file, config: parseRunConfig('pretrain', (JSON.parse(await readFile(statePath, 'utf8')) as { config?: unknown }).config) };
  } catch (e) {
    throw new UsageError(`--checkpoint ${p}: ${statePath} does not hold a valid pre-training config: ${(e as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      checkpoint: { type: 'string' },
      image: { type: 'string' },
      dataset: { type: 'string' },
      index: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string' },
      'no-augment': { type: 'boolean' },
      scale: { type: 'string' },
      backend: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  if (!values.checkpoint) throw new UsageError('visualize needs --checkpoint PATH');
  if (!values.image === !values.dataset) throw new UsageError('visualize needs exactly one of --image FILE or --dataset D');
  const { file, config } = await findModelFile(values.checkpoint);
  const bytes = new Uint8Array(await readFile(file));
  // the metadata says which model the file holds (a ViT or a ResNet) and its shape
  const cfg = cimModelConfigFromMetadata(parseSafetensors(bytes, file).metadata);

  let image: RgbImage;
  if (values.image) {
    try {
      image = await decodeRgb(new Uint8Array(await readFile(values.image)));
    } catch (e) {
      throw new UsageError(`--image ${values.image}: ${(e as Error).message}`);
    }
  } else {
    const index = num('index', values.index, { int: true, min: 0 }) ?? 0;
    const d = values.dataset!;
    const folder = await folderOf('dataset', d);
    const src = await openSource(
      folder !== undefined
        ? { kind: 'image-folder', root: folder }
        : d === 'fashion-mnist'
          ? { kind: 'fashion-mnist', split: 'test', cacheDir: cliSettings().cacheDir }
          : { kind: 'synthetic', size: index + 1, imageSize: 48, seed: 1_000_003 },
    );
    if (index >= src.size) throw new UsageError(`--index ${index}: ${src.name} has ${src.size} images`);
    image = await src.get(index);
  }

  // the run's own sampler when we know it, else the official proportions around the model's sizes
  let sCfg: SamplerConfig = config
    ? samplerConfigOf(config)
    : samplerConfig({
        searchSize: Math.round(cfg.contextSize * 1.4),
        contextSize: cfg.contextSize,
        exemplarSize: cfg.templateSize,
        numExemplars: cfg.numTemplates,
      });
  if (values['no-augment']) sCfg = { ...sCfg, augment: false };

  await initCliBackend(values.backend);
  const model = cimModelFromConfig(cfg, 0);
  try {
    loadModelSafetensors(model, bytes, file);
    const sample = sampleCim(image, sCfg, new Rng(num('seed', values.seed, { int: true, min: 0 }) ?? 0));
    const scale = values.scale ? num('scale', values.scale, { int: true, min: 1 }) : undefined;
    const { png, iou: ious } = await drawCorrelationFigure(model, sample, sCfg, { scale });
    const T = sCfg.numExemplars;
    const out = resolve(values.out ?? 'maps.png');
    await writeFile(out, png);
    console.error(
      `wrote ${out}: ${T} exemplars, IoU ${ious.map((x) => x.toFixed(2)).join(' ')} (mean ${(ious.reduce((a, b) => a + b, 0) / T).toFixed(3)})`,
    );
    console.log(JSON.stringify({ out, iou: ious, checkpoint: file }));
    return 0;
  } finally {
    model.dispose();
  }
}
