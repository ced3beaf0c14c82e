import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cimModelNames } from '@cim-forge/cim';
import { JsonlMetricsSink, LocalCheckpointStore, pretrain } from '@cim-forge/engine';
import { presets, resolvePretrainConfig, type PretrainConfig } from '@cim-forge/config';
import type { SourceSpec } from '@cim-forge/data';
import {
  joinCollective,
  parseRedisUrlList,
  TRANSPORT_NAMES,
  transportProblem,
  WIRE_NAMES,
  type TransportName,
  type WireName,
} from '@cim-forge/collective';
import { cliSettings, defined, initCliBackend, num, oneOf, UsageError } from '../args.ts';
import { launchRanks } from './launch-ranks.ts';
import { fmt, readConfigFile, RunDir, TrainingProgress, withStopAndProgress } from '../run-command.ts';

const help = `Usage: npm run cim -- pretrain [options]

Pre-trains CIM on one machine: exemplars cut from each image (scaled, stretched, rotated,
colour-jittered) go through the online encoder (a ViT or a ResNet); the whole image (the context)
through its momentum twin; a cross-attention decoder learns to predict where each exemplar came from.

Data
  --dataset D           fashion-mnist | synthetic | PATH (an ImageFolder: PATH/<class>/*.jpg|png)
  --limit N             use only the first N images
Config (a preset, then a JSON config file, then flags; see \`cim presets\`)
  --preset NAME         ${Object.keys(presets).join(' | ')}
                        (default: cpu-small, a few minutes on one CPU core)
  --config FILE.json    any PretrainConfig fields, e.g. {"epochs": 10, "sampler": {"searchSize": 64}}
  --model NAME          ${cimModelNames.join(' | ')}
                        (the sampler's context, exemplar size and count follow the model)
  --batch-size N        images per micro-batch           --accum-iter N  micro-batches per step
  --epochs E            (fractional ok)                   --warmup-epochs E
  --base-lr X           lr = base-lr × effective batch / 256
  --weight-decay X      --clip-grad NORM (off by default, as in the official runs)
  --seed N              everything random follows from it: the same seed, the same run
  --workers N           sampling threads (default 1; 0 = inline)
Output
  --out DIR             checkpoints, metrics.jsonl, config.json (default runs/pretrain-<time>)
  --checkpoint-every N  optimizer steps between checkpoints (also one at the end and on Ctrl-C)
  --resume              continue the run in --out from its latest complete checkpoint
  --init-from FILE      start from PyTorch-named weights in safetensors (ours or official)
  --max-steps N         stop after N steps in this invocation (checkpointed; --resume continues)
  --backend B           auto | tensorflow | wasm | cpu | webgpu (default auto, or CIM_BACKEND;
                        webgpu: --webgpu-adapter gpu|software, docs/gpu.md)
Data parallel (one machine)
  --ranks N             N rank processes (one core each) train one model together, averaging
                        gradients over Redis Streams; each reads a disjoint shard of every epoch.
                        N ranks × --batch-size b train exactly like 1 rank × N·b. Only rank 0 writes
                        checkpoints and metrics.jsonl; every rank logs ranks/rank-R.jsonl
  --redis URL[,URL…]    the Redis for gradients (default CIM_COLLECTIVE_REDIS_URLS, else REDIS_URL, else redis://127.0.0.1:6379);
                        several URLs shard every all-reduce over them (K servers, in parallel)
  --nodes M             simulate M nodes: the ranks are split into M contiguous groups; each group
                        sums its gradients over a Unix socket and only its leader talks to Redis
  --wire W              auto | float32 | bfloat16 | float16: gradient format on the Redis wire
                        (auto: bfloat16 across nodes when --nodes is given, else float32)
  --transport T         redis | gloo: what carries the gradients (default redis, or CIM_COLLECTIVE_TRANSPORT).
                        gloo: Gloo (PyTorch's CPU collective library, Debian's libgloo-dev) over TCP rank to
                        rank, or node leader to node leader with --nodes; Redis only for the rendezvous
  --collective-timeout MS  a rank silent this long fails the gang, named (default 60000)

Ctrl-C writes a checkpoint at the next step boundary and exits 0; press it twice to abort.
Example: npm run cim -- pretrain --dataset fashion-mnist --out runs/fm && npm run cim -- visualize --checkpoint runs/fm --dataset fashion-mnist`;

function datasetSpec(d: string, limit?: number): SourceSpec {
  if (d === 'fashion-mnist') return { kind: 'fashion-mnist', split: 'train', ...(limit ? { limit } : {}) };
  if (d === 'synthetic') return { kind: 'synthetic', size: limit ?? 2048, imageSize: 48, seed: 0 };
  const root = resolve(d);
  if (!existsSync(root)) throw new UsageError(`--dataset ${d}: not "fashion-mnist", "synthetic", or an existing directory`);
  return { kind: 'image-folder', root, ...(limit ? { limit } : {}) };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      dataset: { type: 'string' },
      limit: { type: 'string' },
      preset: { type: 'string' },
      config: { type: 'string' },
      model: { type: 'string' },
      'batch-size': { type: 'string' },
      'accum-iter': { type: 'string' },
      epochs: { type: 'string' },
      'warmup-epochs': { type: 'string' },
      'base-lr': { type: 'string' },
      'weight-decay': { type: 'string' },
      'clip-grad': { type: 'string' },
      seed: { type: 'string' },
      workers: { type: 'string' },
      out: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      resume: { type: 'boolean' },
      'init-from': { type: 'string' },
      'max-steps': { type: 'string' },
      backend: { type: 'string' },
      'eval-images': { type: 'string' },
      ranks: { type: 'string' },
      redis: { type: 'string' },
      'collective-timeout': { type: 'string' },
      nodes: { type: 'string' },
      wire: { type: 'string' },
      transport: { type: 'string' },
      node: { type: 'string' },
      'socket-dir': { type: 'string' },
      // set by the --ranks launcher for each rank process
      rank: { type: 'string' },
      'world-size': { type: 'string' },
      'run-id': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const dir = new RunDir('pretrain', values.out);
  const { out } = dir;
  let config: PretrainConfig;
  if (values.resume) {
    config = await dir.readSavedConfig();
    const changed = ['dataset', 'preset', 'config', 'model', 'batch-size', 'epochs', 'base-lr', 'seed'].filter(
      (k) => (values as Record<string, unknown>)[k] !== undefined,
    );
    if (changed.length) console.error(`note: resuming with the run's saved config; ignoring --${changed.join(', --')}`);
    if (values.workers !== undefined) config.workers = num('workers', values.workers, { int: true, min: 0 })!;
  } else {
    if (values.rank === undefined) await dir.refuseExistingCheckpoints();
    const limit = num('limit', values.limit, { int: true, min: 1 });
    const preset = values.preset ?? 'cpu-small';
    const fileCfg = await readConfigFile('pretrain', values.config);
    const presetData = presets[preset]?.config.dataset;
    // --dataset of the preset's own kind keeps the preset's settings (cpu-small's 8k-image subset)
    let dataset = values.dataset ? datasetSpec(values.dataset, limit) : undefined;
    if (presetData && dataset?.kind === presetData.kind && limit === undefined) dataset = presetData;
    if (presetData && !dataset && limit)
      dataset = (presetData.kind === 'synthetic' ? { ...presetData, size: limit } : { ...presetData, limit }) as SourceSpec;
    const flags = defined({
      dataset,
      model: oneOf('model', values.model, cimModelNames),
      batchSize: num('batch-size', values['batch-size'], { int: true, min: 1 }),
      accumIter: num('accum-iter', values['accum-iter'], { int: true, min: 1 }),
      epochs: num('epochs', values.epochs, { min: 0 }),
      warmupEpochs: num('warmup-epochs', values['warmup-epochs'], { min: 0 }),
      baseLr: num('base-lr', values['base-lr'], { min: 0 }),
      weightDecay: num('weight-decay', values['weight-decay'], { min: 0 }),
      clipGrad: num('clip-grad', values['clip-grad'], { min: 0 }),
      seed: num('seed', values.seed, { int: true, min: 0 }),
      workers: num('workers', values.workers, { int: true, min: 0 }),
      checkpointEvery: num('checkpoint-every', values['checkpoint-every'], { int: true, min: 0 }),
      evalImages: num('eval-images', values['eval-images'], { int: true, min: 0 }),
      initFrom: values['init-from'] ? resolve(values['init-from']) : undefined,
    });
    try {
      config = resolvePretrainConfig(preset, { ...fileCfg, ...flags });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (config.initFrom && !existsSync(config.initFrom)) throw new UsageError(`--init-from ${config.initFrom}: no such file`);
  }
  const maxSteps = num('max-steps', values['max-steps'], { int: true, min: 1 });
  const ranks = num('ranks', values.ranks, { int: true, min: 1 }) ?? 1;
  const rank = num('rank', values.rank, { int: true, min: 0 });
  const worldSize = num('world-size', values['world-size'], { int: true, min: 1 }) ?? 1;
  const nodes = num('nodes', values.nodes, { int: true, min: 1 });
  if (nodes !== undefined && nodes > ranks) throw new UsageError(`--nodes ${nodes}: more nodes than --ranks ${ranks}`);
  const wire = (values.wire ?? 'auto') as WireName | 'auto';
  if (wire !== 'auto' && !WIRE_NAMES.includes(wire)) throw new UsageError(`--wire ${values.wire}: not auto, ${WIRE_NAMES.join(', ')}`);
  const transport = (values.transport ?? cliSettings().collectiveTransport) as TransportName;
  if (!TRANSPORT_NAMES.includes(transport)) throw new UsageError(`--transport ${transport}: not ${TRANSPORT_NAMES.join(' or ')}`);
  const refused = ranks > 1 ? transportProblem(transport) : undefined;
  if (refused) throw new UsageError(`--${refused}`);
  if (transport === 'gloo' && wire !== 'auto' && wire !== 'float32')
    throw new UsageError(`--wire ${wire}: transport gloo always sends float32 (--wire is the Redis transport's)`);
  const redisUrls = parseRedisUrlList(values.redis ?? cliSettings().collectiveRedisUrls.join(','));
  if (!redisUrls.length) throw new UsageError('--redis: no URL given');
  for (const u of redisUrls)
    if (!/^rediss?:\/\/[^\s]+$/.test(u)) throw new UsageError(`--redis: ${JSON.stringify(u)} is not a redis:// or rediss:// URL`);
  if (ranks > 1 && rank === undefined) {
    await mkdir(out, { recursive: true });
    if (!values.resume) await dir.saveConfig(config);
    const forwarded = argv.filter((a, i) => !(a === '--out' || argv[i - 1] === '--out' || a.startsWith('--out=')));
    const outcomes = await launchRanks({ argv: forwarded, ranks, nodes, out, log: (m) => console.error(m) });
    const digests = new Set(outcomes.map((r) => r.result?.weightsDigest));
    const ok = outcomes.every((r) => r.code === 0);
    console.log(
      JSON.stringify({
        out,
        ranks,
        ok,
        identicalWeights: ok && digests.size === 1,
        ...(outcomes[0].result ?? {}),
        perRank: outcomes.map((r) => ({
          rank: r.rank,
          code: r.code,
          signal: r.signal,
          weightsDigest: r.result?.weightsDigest,
          steps: r.result?.steps,
        })),
      }),
    );
    if (ok && digests.size !== 1) console.error('error: the ranks ended with different weights');
    return ok && digests.size === 1 ? 0 : 1;
  }
  const backend = await initCliBackend(values.backend);
  await mkdir(out, { recursive: true });
  if (!values.resume && rank === undefined) await dir.saveConfig(config);
  const collective =
    rank === undefined
      ? undefined
      : await joinCollective({
          redisUrls,
          nodeName: values.node,
          socketDir: values['socket-dir'],
          wire,
          transport,
          runId: values['run-id'] ?? 'cli',
          rank,
          worldSize,
          timeoutMs: num('collective-timeout', values['collective-timeout'], { int: true, min: 100 }) ?? 60_000,
        });

  const progress = new TrainingProgress(
    'pretrain |{bar}| {value}/{total} steps | loss {loss} | {ips} img/s | lr {lr} | ETA {eta_formatted}',
  );
  const result = await withStopAndProgress(
    progress,
    (shouldStop) =>
      pretrain({
        config,
        store: new LocalCheckpointStore(dir.checkpoints),
        metrics: new JsonlMetricsSink(dir.metrics),
        rankMetrics: collective ? new JsonlMetricsSink(join(out, 'ranks', `rank-${collective.rank}.jsonl`)) : undefined,
        collective,
        resume: values.resume,
        maxSteps,
        hooks: {
          log: (m) => console.error(m),
          onPlan: ({ plan, resumedFrom, startStep, params }) => {
            const c = config;
            console.error(
              [
                `backend      ${backend.name} (${backend.detail})`,
                `model        ${c.model} ${JSON.stringify(c.modelOverrides)} — ${(params / 1e6).toFixed(2)} M trainable parameters`,
                `data         ${JSON.stringify(c.dataset)}: ${plan.imagesPerEpoch} images/epoch`,
                `batch        ${c.batchSize} × ${c.accumIter} accumulation × ${plan.worldSize} rank(s) = effective ${plan.effectiveBatch}`,
                `lr           ${c.baseLr} × ${plan.effectiveBatch}/256 = ${plan.peakLr.toExponential(3)} peak; ` +
                  `warmup ${c.warmupEpochs} epochs, cosine to ${c.minLr}`,
                `steps        ${plan.stepsPerEpoch}/epoch × ${c.epochs} epochs = ${plan.totalSteps}` +
                  `${resumedFrom ? ` (resuming at ${startStep} from ${resumedFrom})` : ''}`,
                `momentum     ${c.momentumBase} → ${c.momentumEnd} (cosine)   clip ${c.clipGrad ?? 'off'}   seed ${c.seed}`,
                `out          ${out}`,
              ].join('\n'),
            );
            progress.start(plan.totalSteps, startStep, { loss: '-', ips: '-', lr: '-' });
          },
          onStep: (r) =>
            progress.step(r.step, r.totalSteps, { loss: r.loss.toFixed(4), ips: r.imagesPerSec.toFixed(1), lr: r.lr.toExponential(2) }),
          onCheckpoint: (id, step) => progress.checkpoint(id, step),
          shouldStop,
        },
      }),
    async () => {
      await collective?.close();
    },
  );

  const lines = [
    '',
    result.stopped
      ? `stopped after ${result.steps} steps; continue with: npm run cim -- pretrain --out ${out} --resume`
      : `done: ${result.steps} steps in ${result.seconds.toFixed(1)} s (${result.imagesPerSec.toFixed(1)} img/s)`,
    `loss         ${fmt(result.earlyLoss)} (first 10% of steps) → ${fmt(result.lateLoss)} (last 10%)`,
  ];
  if (result.eval) {
    const e = result.eval;
    lines.push(
      `held-out     IoU ${fmt(e.meanIoU, 3)} of predicted (p > 0.5) vs true maps over ${e.exemplars} ` +
        `exemplars (predicting the whole image: ${fmt(e.allOnesIoU, 3)})`,
    );
    lines.push(
      `             ${fmt(e.tunedIoU, 3)} with the maps thresholded at p > ${fmt(e.tunedThreshold, 2)}, ` +
        `the threshold best on the training images (the prior tunes its own there too)`,
    );
    lines.push(
      `             the best exemplar-blind prediction (centre prior: the training set's mean true map at each exemplar scale) scores ${fmt(e.priorIoU, 3)}: ` +
        (e.tunedIoU > e.priorIoU + 0.02
          ? 'the maps follow the exemplars'
          : 'the model has not beaten it, so it predicts where exemplars usually are, not where this one is'),
    );
    lines.push(
      `correlation  held-out loss ${fmt(e.loss, 3)} with each image's own exemplars vs ` +
        `${fmt(e.mismatchedLoss, 3)} with another image's: the gap (${fmt(e.mismatchedLoss - e.loss, 3)}) is ` +
        `what the exemplars tell the model`,
    );
  }
  if (result.lastCheckpoint) lines.push(`checkpoint   ${join(out, 'checkpoints', result.lastCheckpoint)}`);
  lines.push(`metrics      ${join(out, 'metrics.jsonl')}`);
  lines.push(
    `see it       npm run cim -- visualize --checkpoint ` +
      `${out}${config.dataset.kind === 'fashion-mnist' ? ' --dataset fashion-mnist' : ' --image PATH'} ` +
      `--out ${join(out, 'maps.png')}`,
  );
  console.error(lines.join('\n'));
  console.log(JSON.stringify({ out, ...result }));
  return 0;
}
