import { parseArgs } from 'node:util';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cimModelNames, cimResNetFactories, type AnyCimModelConfig } from '@cim-forge/cim';
import { finetune, JsonlMetricsSink, LocalCheckpointStore } from '@cim-forge/engine';
import { defaultFinetuneConfig, parseRunConfig, resolveFinetuneConfig, type FinetuneConfig } from '@cim-forge/config';
import { defined, initCliBackend, num, UsageError } from '../args.ts';
import { COLLECTIVE_HELP, joinRankCollective, RANK_FLAGS, rankFlags, runGang } from './launch-ranks.ts';
import { encoderFlags, LABELLED_DATA_FLAGS, labelledDatasetFlags, valFractionFlag } from '../labelled-data.ts';
import { fmt, readConfigFile, RunDir, TrainingProgress, withStopAndProgress } from '../run-command.ts';

const help = `Usage: npm run cim -- finetune --from RUN_DIR|FILE.safetensors|scratch [options]

Fine-tunes a classifier: the CIM encoder (its online half, or --encoder target), then for a ViT the
mean of its patch tokens, a LayerNorm and a linear head, for a ResNet (cimResnetMicro, …) a global
average pool and a linear head (BatchNorm on batch statistics while training, running statistics
when scoring; layer decay by stage), trained on labelled images with the recipe's
layer-wise lr decay, warmup then cosine, drop path, RandAugment-style augmentation, random
erasing, mixup / cutmix and label smoothing. Top-1 on the held-out split after every epoch.

Start
  --from X              RUN_DIR (a pretrain --out: its latest checkpoint), a checkpoint directory,
                        a model.safetensors (ours or an official one converted), or "scratch"
  --encoder E           online | target (the momentum encoder) (default online)
  --model NAME          the encoder's shape for --from scratch: ${cimModelNames.join(' | ')}
                        (default cimVitMicroPatch4; a checkpoint's own shape wins otherwise)
  --img-size N          fine-tuning resolution (default the encoder's; position embedding resized)
Data
  --dataset D           fashion-mnist (train split to learn, test split held out), or your own labelled
                        images: an ImageFolder DIR/<class>/*.png|jpg|webp (or s3://bucket/prefix), its
                        DIR/val/<class>/ folders held out when there are DIR/train/ and DIR/val/, else a
                        seeded stratified --val-fraction F of each class (default 0.2)
  --val-fraction F      fashion-mnist: carve a stratified validation split F from train (seed 0, the same
                        for every run), score it every epoch, and score the test split once at the end
  --limit N             first N training images (class-balanced)   --eval-images N  held-out images scored
                        (fashion-mnist)
  --labels-fraction F   fine-tune on a stratified fraction F of the training labels (e.g. 0.1)
Recipe (defaults: the paper's, see docs/cim-recipe.md)
  --epochs E  --warmup-epochs E  --batch-size N
  --base-lr X           lr = base-lr × batch / 256 (default 1.2e-3)    --min-lr X (1e-6)
  --layer-decay X       block i of L gets lr × X^(L−i), the embeddings X^(L+1), the head 1 (0.8);
                        a ResNet: stage k of S gets X^(S+1−k), the stem X^(S+1)
  --weight-decay X (0.05)   --drop-path X (0.1)   --smoothing X (0.1)
  --mixup A (0.8)  --cutmix A (1.0)  --reprob P (0.25)  --rand-augment N,M | off (2,9)
  --no-aug              all of drop path, mixup, cutmix, erasing and RandAugment off
  --config FILE.json    any FinetuneConfig fields; flags win
  --seed N              the same seed, the same run
Output
  --out DIR             checkpoints/, metrics.jsonl, config.json (default runs/finetune-<time>)
  --checkpoint-every N  steps between checkpoints (also one at the end and on Ctrl-C)
  --resume              continue the run in --out from its latest checkpoint
  --max-steps N         stop after N steps in this invocation (checkpointed; --resume continues)
  --backend B           auto | tensorflow | wasm | cpu | webgpu (default auto, or CIM_BACKEND;
                        webgpu: --webgpu-adapter gpu|software, docs/gpu.md)
Data parallel (one machine)
  --ranks N             N rank processes (the cores split between them; CIM_THREADS sets each one's
                        threads) fine-tune one model together. --batch-size stays the global batch:
                        each rank trains on its batch/N images of it (refused unless N divides it),
                        taken from the same epoch permutation, and the gradients are averaged before
                        every optimizer step, so every rank holds bit-identical weights. BatchNorm
                        (ResNets) normalizes each rank's images by their own batch statistics, PyTorch
                        DDP's default (not SyncBatchNorm); its running statistics are averaged across
                        ranks every step. A LayerNorm ViT trains like one process with the same batch,
                        to float rounding. Each rank scores its share of the held-out images (the counts
                        summed); only rank 0 writes checkpoints and metrics.jsonl (images/s counts the
                        global batch); every rank logs ranks/rank-R.jsonl. --resume --ranks N continues
                        any run (the data position is a function of the step). The ranks share one node
                        unless --nodes says otherwise: gradients are summed in shared memory, Redis only
                        sees the rendezvous (--nodes 1; pretrain's default is every rank on Redis)
${COLLECTIVE_HELP}

Example: npm run cim -- finetune --from runs/fm --dataset fashion-mnist --labels-fraction 0.1 --epochs 20 --out runs/fm-ft10
         npm run cim -- finetune --from runs/fm --dataset ~/photos/flowers --epochs 20   (flowers/<class>/*.jpg)`;

/** "64-d, depth 4, patch 4" for a ViT, "resnet 1,1,1,1 basic, 128-d" for a ResNet */
function encoderShape(e: AnyCimModelConfig): string {
  if ('backbone' in e)
    return `ResNet ${e.backbone.block} [${e.backbone.layers.join(', ')}], ${e.backbone.stem} stem, widths ${e.backbone.widths.join('/')}`;
  return `${e.embedDim}-d, depth ${e.depth}, patch ${e.patchSize}`;
}

/**
 * A saved fine-tuning config (--resume, and every rank of a gang), checked by the run contract. Its
 * finetune schema names only the ViT factories (the service fine-tunes ViTs; ResNet classifiers are
 * CLI-only), so a CLI ResNet run is checked with the schema's default model in its place and keeps its own.
 */
function parseSavedFinetuneConfig(saved: unknown): FinetuneConfig {
  const model = (saved as { model?: unknown } | null)?.model;
  if (typeof model !== 'string' || !(model in cimResNetFactories)) return parseRunConfig('finetune', saved);
  return {
    ...parseRunConfig('finetune', { ...(saved as object), model: defaultFinetuneConfig.model }),
    model: model as FinetuneConfig['model'],
  };
}

function randAugmentFlag(v: string | undefined): FinetuneConfig['randAugment'] | undefined {
  if (v === undefined) return undefined;
  if (v === 'off') return null;
  const m = /^(\d+),(\d+(?:\.\d+)?)$/.exec(v);
  if (!m) throw new UsageError(`--rand-augment must be N,M (e.g. 2,9) or off, got "${v}"`);
  return { n: Number(m[1]), m: Number(m[2]), mstd: 0.5 };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      ...LABELLED_DATA_FLAGS,
      epochs: { type: 'string' },
      'warmup-epochs': { type: 'string' },
      'batch-size': { type: 'string' },
      'base-lr': { type: 'string' },
      'min-lr': { type: 'string' },
      'layer-decay': { type: 'string' },
      'weight-decay': { type: 'string' },
      'drop-path': { type: 'string' },
      smoothing: { type: 'string' },
      mixup: { type: 'string' },
      cutmix: { type: 'string' },
      reprob: { type: 'string' },
      'rand-augment': { type: 'string' },
      'no-aug': { type: 'boolean' },
      config: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'boolean' },
      'max-steps': { type: 'string' },
      backend: { type: 'string' },
      ...RANK_FLAGS,
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const dir = new RunDir('finetune', values.out);
  const { out } = dir;
  const gang = rankFlags(values);
  const { ranks, rank } = gang;
  // one machine: the ranks share one node by default (shared-memory sums; over Redis Streams the
  // all-reduce of cimResnetMicro's 1.2 MB took 35 ms a step against 12 ms: docs/benchmarks.md)
  const nodes = gang.nodes ?? 1;
  let config: FinetuneConfig;
  // a rank process reads the config its launcher saved
  if (values.resume || rank !== undefined) {
    config = await dir.readSavedConfig(parseSavedFinetuneConfig);
  } else {
    const encoder = await encoderFlags(values);
    await dir.refuseExistingCheckpoints();
    const fileCfg = await readConfigFile('finetune', values.config);
    // fashion-mnist has its own test split: --val-fraction carves a validation split from train (scored every epoch; test at the end)
    const fmVal = values['val-fraction'] !== undefined && (values.dataset === undefined || values.dataset === 'fashion-mnist');
    const noAug = values['no-aug'] ? { dropPath: 0, mixup: 0, cutmix: 0, reprob: 0, randAugment: null } : {};
    const flags = defined({
      ...encoder,
      ...(await labelledDatasetFlags(values, { valFraction: !fmVal })),
      valFraction: fmVal ? valFractionFlag(values['val-fraction']) : undefined,
      labelsFraction: num('labels-fraction', values['labels-fraction'], { min: 0 }),
      epochs: num('epochs', values.epochs, { min: 0 }),
      warmupEpochs: num('warmup-epochs', values['warmup-epochs'], { min: 0 }),
      batchSize: num('batch-size', values['batch-size'], { int: true, min: 1 }),
      baseLr: num('base-lr', values['base-lr'], { min: 0 }),
      minLr: num('min-lr', values['min-lr'], { min: 0 }),
      layerDecay: num('layer-decay', values['layer-decay'], { min: 0 }),
      weightDecay: num('weight-decay', values['weight-decay'], { min: 0 }),
      dropPath: num('drop-path', values['drop-path'], { min: 0 }),
      labelSmoothing: num('smoothing', values.smoothing, { min: 0 }),
      mixup: num('mixup', values.mixup, { min: 0 }),
      cutmix: num('cutmix', values.cutmix, { min: 0 }),
      reprob: num('reprob', values.reprob, { min: 0 }),
      randAugment: randAugmentFlag(values['rand-augment']),
      seed: num('seed', values.seed, { int: true, min: 0 }),
      checkpointEvery: num('checkpoint-every', values['checkpoint-every'], { int: true, min: 0 }),
    });
    try {
      config = resolveFinetuneConfig({ ...fileCfg, ...noAug, ...flags });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const maxSteps = num('max-steps', values['max-steps'], { int: true, min: 1 });
  if (config.batchSize % ranks !== 0)
    throw new UsageError(
      `--ranks ${ranks}: the batch of ${config.batchSize} (--batch-size, the global batch) does not split evenly over ${ranks} ranks; ` +
        `give a batch size divisible by ${ranks}`,
    );
  if (ranks > 1 && rank === undefined) {
    await mkdir(out, { recursive: true });
    if (!values.resume) await dir.saveConfig(config);
    return runGang({ command: 'finetune', argv, ranks, nodes, out });
  }
  const backend = await initCliBackend(values.backend);
  await mkdir(out, { recursive: true });
  if (!values.resume && rank === undefined) await dir.saveConfig(config);
  const collective = await joinRankCollective(gang, values);
  const worldSize = collective?.worldSize ?? 1;

  const progress = new TrainingProgress(
    'finetune |{bar}| {value}/{total} steps | loss {loss} | top-1 {top1} | {ips} img/s | lr {lr} | ETA {eta_formatted}',
  );
  let top1 = '-';
  let numClasses = 0;
  const result = await withStopAndProgress(
    progress,
    (shouldStop) =>
      finetune({
        config,
        store: new LocalCheckpointStore(dir.checkpoints),
        metrics: new JsonlMetricsSink(dir.metrics),
        rankMetrics: collective ? new JsonlMetricsSink(join(out, 'ranks', `rank-${collective.rank}.jsonl`)) : undefined,
        collective,
        resume: values.resume,
        maxSteps,
        hooks: {
          log: (m) => console.error(m),
          onPlan: ({ plan, encoder, resumedFrom, startStep, params, trainImages, evalImages }) => {
            const c = config;
            numClasses = plan.numClasses;
            console.error(
              [
                `backend      ${backend.name} (${backend.detail})`,
                `encoder      ${c.initFrom ? `${c.encoder} encoder of ${c.initFrom}` : `${c.model} from scratch`}: ` +
                  `${encoderShape(encoder)}, at ${plan.imgSize} px — ${(params / 1e6).toFixed(2)} M trainable parameters`,
                `data         ${trainImages} training ` +
                  `images${c.labelsFraction < 1 ? ` (${c.labelsFraction} of the labels, stratified)` : ''}, ` +
                  `${evalImages} held out, ${plan.numClasses} classes`,
                `lr           ${c.baseLr} × ${c.batchSize}/256 = ${plan.peakLr.toExponential(3)} peak; layer decay ` +
                  `${c.layerDecay}; warmup ${c.warmupEpochs} epochs, cosine to ${c.minLr}; wd ${c.weightDecay}`,
                `augment      drop path ${c.dropPath}, RandAugment ` +
                  `${c.randAugment ? `n${c.randAugment.n} m${c.randAugment.m}` : 'off'}, erasing ${c.reprob}, mixup ` +
                  `${c.mixup}, cutmix ${c.cutmix}, smoothing ${c.labelSmoothing}`,
                `steps        ${plan.stepsPerEpoch}/epoch × ${c.epochs} epochs = ` +
                  `${plan.totalSteps}${resumedFrom ? ` (resuming at ${startStep} from ${resumedFrom})` : ''}   seed ${c.seed}`,
                ...(worldSize > 1
                  ? [
                      `ranks        ${worldSize} × ${c.batchSize / worldSize} images of each batch of ${c.batchSize}, gradients averaged` +
                        `${'backbone' in encoder ? "; BatchNorm on each rank's own images (DDP's default), running statistics averaged" : ''}`,
                    ]
                  : []),
                `out          ${out}`,
              ].join('\n'),
            );
            progress.start(plan.totalSteps, startStep, { loss: '-', top1, ips: '-', lr: '-' });
          },
          onStep: (r) =>
            progress.step(r.step, r.totalSteps, {
              loss: r.loss.toFixed(4),
              top1,
              ips: r.imagesPerSec.toFixed(1),
              lr: r.lr.toExponential(2),
            }),
          onEval: (e) => {
            top1 = `${(100 * e.top1).toFixed(1)}%`;
            progress.note(`epoch ${e.epoch.toFixed(2)}: held-out top-1 ${top1} (loss ${e.loss.toFixed(3)})`);
          },
          onCheckpoint: (id, step) => progress.checkpoint(id, step),
          shouldStop,
        },
      }),
    async () => {
      await collective?.close();
    },
  );

  const unfinished = result.finalStep < result.totalSteps;
  console.error(
    [
      '',
      unfinished
        ? `stopped after ${result.steps} steps; continue with: npm run cim -- finetune --out ${out} --resume${worldSize > 1 ? ` --ranks ${worldSize}` : ''}`
        : `done: ${result.steps} steps in ${result.seconds.toFixed(1)} s (${result.imagesPerSec.toFixed(1)} img/s)`,
      `loss         ${fmt(result.earlyLoss)} (first 10% of steps) → ${fmt(result.lateLoss)} (last 10%)`,
      `top-1        ${(100 * result.top1).toFixed(2)}% on ${result.evalImages} ` +
        `${config.valFraction > 0 ? 'validation' : 'held-out'} images (chance ${(100 / numClasses).toFixed(0)}%)`,
      ...(result.test ? [`test top-1   ${(100 * result.test.top1).toFixed(2)}% on ${result.test.images} test images`] : []),
      ...(result.lastCheckpoint ? [`checkpoint   ${join(out, 'checkpoints', result.lastCheckpoint)}`] : []),
      `metrics      ${join(out, 'metrics.jsonl')}`,
    ].join('\n'),
  );
  console.log(JSON.stringify({ out, ...result }));
  return 0;
}
