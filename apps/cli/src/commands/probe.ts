import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { cimModelNames } from '@cim-forge/cim';
import { defaultProbeConfig, linearProbe, type ProbeConfig } from '@cim-forge/engine';
import { defined, initCliBackend, num, UsageError } from '../args.ts';
import { encoderFlags, LABELLED_DATA_FLAGS, labelledDatasetFlags } from '../labelled-data.ts';

const help = `Usage: npm run cim -- probe --from RUN_DIR|FILE.safetensors|scratch --dataset fashion-mnist|DIR [options]

Linear probe: the encoder frozen, one linear layer trained on its features, top-1 on the held-out
split — the quick test of what pre-training learned. Features: the mean of the encoder's patch
tokens (after its final norm), standardized per dimension with the training set's statistics
(MAE's BatchNorm without affine, statistics fixed); computed once, then the linear layer trains
with AdamW, cosine lr. --from scratch probes a random encoder: the baseline to beat.

  --from X              RUN_DIR (latest checkpoint), a checkpoint directory, a model.safetensors, or scratch
  --encoder E           online | target (default online)
  --model NAME          encoder shape for scratch: ${cimModelNames.join(' | ')}
  --img-size N          resolution (default the encoder's)
  --dataset D           fashion-mnist, or an ImageFolder DIR/<class>/<images> (or s3://bucket/prefix):
                        DIR/train and DIR/val when both exist, else a seeded stratified --val-fraction F
                        of each class held out (default 0.2)
  --limit N             first N training images     --eval-images N   held-out images scored (fashion-mnist)
  --labels-fraction F   probe with a stratified fraction of the labels
  --epochs E (30)  --batch-size N (256)  --lr X (1e-2)  --weight-decay X (0)  --seed N
  --knn K               also k-NN top-1 on the same frozen (unstandardized) features: cosine similarity,
                        the K nearest training images vote with weight exp(sim/0.07) (DINO); the protocol: 20
Also printed: feature statistics of the training features (effective rank, per-dimension std, collapse).
  --backend B           auto | tensorflow | wasm | cpu | webgpu (with --webgpu-adapter gpu|software)

Example: npm run cim -- probe --from runs/fm --dataset fashion-mnist --limit 10000`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      ...LABELLED_DATA_FLAGS,
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'weight-decay': { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      knn: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const fraction = num('labels-fraction', values['labels-fraction'], { min: 0 });
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1))
    throw new UsageError(`--labels-fraction must be in (0, 1], got ${fraction}`);
  const config: ProbeConfig = {
    ...defaultProbeConfig,
    ...defined({
      ...(await encoderFlags(values)),
      ...(await labelledDatasetFlags(values, { defaultDataset: 'fashion-mnist' })),
      labelsFraction: fraction,
      epochs: num('epochs', values.epochs, { int: true, min: 1 }),
      batchSize: num('batch-size', values['batch-size'], { int: true, min: 1 }),
      lr: num('lr', values.lr, { min: 0 }),
      weightDecay: num('weight-decay', values['weight-decay'], { min: 0 }),
      seed: num('seed', values.seed, { int: true, min: 0 }),
      knnK: num('knn', values.knn, { int: true, min: 1 }),
    }),
  };
  const backend = await initCliBackend(values.backend);
  console.error(`backend      ${backend.name} (${backend.detail})`);
  console.error(
    `encoder      ${config.initFrom ? `${config.encoder} encoder of ${resolve(config.initFrom)}` : `${config.model}, random init (baseline)`}`,
  );
  const result = await linearProbe({
    config,
    log: (m) => console.error(m),
    onEpoch: (e) => {
      if (e.epoch === 1 || e.epoch === config.epochs || e.epoch % 10 === 0)
        console.error(`epoch ${e.epoch}/${config.epochs} loss ${e.loss.toFixed(4)}`);
    },
  });
  console.error(
    [
      '',
      `features     ${result.featureDim}-d for ${result.trainImages} + ${result.evalImages} images in ${result.featureSeconds.toFixed(1)} s`,
      `top-1        ${(100 * result.top1).toFixed(2)}% held out (train ${(100 * result.trainTop1).toFixed(2)}%)`,
      ...(result.knnTop1 !== undefined ? [`k-NN top-1   ${(100 * result.knnTop1).toFixed(2)}% held out (k = ${config.knnK}, cosine)`] : []),
    ].join('\n'),
  );
  console.log(JSON.stringify({ from: config.initFrom ?? 'scratch', encoder: config.encoder, ...result }));
  return 0;
}
