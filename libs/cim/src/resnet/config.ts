/**
 * The shape of a ResNet backbone and of CIM on top of it. ResNet-50 follows torchvision's v1.5
 * (stride on the 3×3 conv of a bottleneck); the `cifar` stem (3×3 stride-1 conv, no max pool) is
 * the usual small-image variant for 32-px inputs.
 */

export type ResNetBlock = 'basic' | 'bottleneck';
export type ResNetStem = 'imagenet' | 'cifar';

export interface ResNetConfig {
  block: ResNetBlock;
  /** blocks per stage, e.g. [3, 4, 6, 3] */
  layers: number[];
  /** base width per stage; a bottleneck's output is 4× this */
  widths: number[];
  /** stride of each stage's first block (torchvision: [1, 2, 2, 2]) */
  strides: number[];
  /** imagenet: 7×7/2 conv + 3×3/2 max pool (stride 4); cifar: 3×3/1 conv, no pool (stride 1) */
  stem: ResNetStem;
  stemWidth: number;
  /** BatchNorm eps (PyTorch 1e-5) and running-statistics momentum (PyTorch 0.1) */
  bnEps: number;
  bnMomentum: number;
}

export const BOTTLENECK_EXPANSION = 4;

const bn = { bnEps: 1e-5, bnMomentum: 0.1 };

/** the ImageNet-sized body both ImageNet ResNets share: widths 64..512, output stride 32 */
const imagenetBody = (): Pick<ResNetConfig, 'widths' | 'strides' | 'stem' | 'stemWidth' | 'bnEps' | 'bnMomentum'> => ({
  widths: [64, 128, 256, 512],
  strides: [1, 2, 2, 2],
  stem: 'imagenet',
  stemWidth: 64,
  ...bn,
});

/** ResNet-50: bottlenecks [3, 4, 6, 3], widths 64..512 (outputs 256..2048), output stride 32. */
export const resnet50 = (o: Partial<ResNetConfig> = {}): ResNetConfig =>
  checkResNetConfig({ block: 'bottleneck', layers: [3, 4, 6, 3], ...imagenetBody(), ...o });

/** ResNet-18 (basic blocks [2, 2, 2, 2]), for completeness. */
export const resnet18 = (o: Partial<ResNetConfig> = {}): ResNetConfig =>
  checkResNetConfig({ block: 'basic', layers: [2, 2, 2, 2], ...imagenetBody(), ...o });

/**
 * CPU-sized: basic blocks [1, 1, 1, 1], widths 16..128, cifar stem, output stride 8, so a 32-px
 * context gives a 4×4 grid and a 16-px exemplar 2×2. 307,536 learnable parameters.
 */
export const resnetMicro = (o: Partial<ResNetConfig> = {}): ResNetConfig =>
  checkResNetConfig({
    block: 'basic',
    layers: [1, 1, 1, 1],
    widths: [16, 32, 64, 128],
    strides: [1, 2, 2, 2],
    stem: 'cifar',
    stemWidth: 16,
    ...bn,
    ...o,
  });

/** Channels of the final feature map. */
export function resnetOutDim(c: ResNetConfig): number {
  return c.widths[c.widths.length - 1] * (c.block === 'bottleneck' ? BOTTLENECK_EXPANSION : 1);
}

/** Total stride of the network (input side / output side, for sides divisible by it). */
export function resnetStride(c: ResNetConfig): number {
  return (c.stem === 'imagenet' ? 4 : 1) * c.strides.reduce((a, b) => a * b, 1);
}

/** Output side for an input side (PyTorch's padding k//2 rounds up: ceil at every stride-2 layer). */
export function resnetGrid(c: ResNetConfig, side: number): number {
  let s = side;
  const down = (k: number, st: number, p: number) => (s = Math.floor((s + 2 * p - k) / st) + 1);
  if (c.stem === 'imagenet') {
    down(7, 2, 3);
    down(3, 2, 1);
  } else down(3, 1, 1);
  for (const st of c.strides) down(3, st, 1);
  return s;
}

export function checkResNetConfig(c: ResNetConfig): ResNetConfig {
  const n = c.layers.length;
  if (n === 0 || c.widths.length !== n || c.strides.length !== n) {
    throw new Error(
      `resnet config: layers, widths and strides must have the same non-zero length, got ${n}, ${c.widths.length}, ${c.strides.length}`,
    );
  }
  for (const [k, arr] of [
    ['layers', c.layers],
    ['widths', c.widths],
    ['strides', c.strides],
  ] as const) {
    if (!arr.every((v) => Number.isInteger(v) && v > 0))
      throw new Error(`resnet config: ${k} must be positive integers, got ${JSON.stringify(arr)}`);
  }
  if (!Number.isInteger(c.stemWidth) || c.stemWidth <= 0)
    throw new Error(`resnet config: stemWidth must be a positive integer, got ${c.stemWidth}`);
  if (!(c.bnEps > 0) || !(c.bnMomentum >= 0 && c.bnMomentum <= 1))
    throw new Error('resnet config: bnEps > 0 and bnMomentum in [0, 1] required');
  return c;
}

/** CIM with a ResNet backbone: the ViT variant's decoder and loss on convolutional tokens. */
export interface CimResNetConfig {
  backbone: ResNetConfig;
  decoderEmbedDim: number;
  decoderNumHeads: number;
  mlpRatio: number;
  /** context side (px); its ResNet grid is the decoder's query grid */
  contextSize: number;
  /** exemplar side (px) */
  templateSize: number;
  numTemplates: number;
}

/** ResNet-50 on the official sizes: 160-px context → 5×5 grid, 64-px exemplars → 2×2. */
export const cimResnet50 = (o: Partial<CimResNetConfig> = {}): CimResNetConfig =>
  checkCimResNetConfig({
    backbone: resnet50(),
    decoderEmbedDim: 512,
    decoderNumHeads: 16,
    mlpRatio: 4,
    contextSize: 160,
    templateSize: 64,
    numTemplates: 6,
    ...o,
  });

/** resnetMicro on the small sampler sizes: 32-px context → 4×4 grid, 16-px exemplars → 2×2. */
export const cimResnetMicro = (o: Partial<CimResNetConfig> = {}): CimResNetConfig =>
  checkCimResNetConfig({
    backbone: resnetMicro(),
    decoderEmbedDim: 64,
    decoderNumHeads: 4,
    mlpRatio: 4,
    contextSize: 32,
    templateSize: 16,
    numTemplates: 6,
    ...o,
  });

export const cimResNetFactories = { cimResnet50, cimResnetMicro } as const;

export function checkCimResNetConfig(c: CimResNetConfig): CimResNetConfig {
  checkResNetConfig(c.backbone);
  for (const k of ['decoderEmbedDim', 'decoderNumHeads', 'contextSize', 'templateSize', 'numTemplates'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`cim resnet config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.decoderEmbedDim % c.decoderNumHeads !== 0 || c.decoderEmbedDim % 4 !== 0) {
    throw new Error(`cim resnet config: decoderEmbedDim ${c.decoderEmbedDim} must divide by decoderNumHeads ${c.decoderNumHeads} and by 4`);
  }
  const gc = resnetGrid(c.backbone, c.contextSize);
  const gt = resnetGrid(c.backbone, c.templateSize);
  if (gc < 2 || gt < 2)
    throw new Error(
      `cim resnet config: grids must be ≥ 2, got context ${gc}×${gc}, exemplar ${gt}×${gt} (stride ${resnetStride(c.backbone)})`,
    );
  return c;
}

/** Overrides of a CIM ResNet factory; `backbone` fields merge into the factory's backbone. */
export type CimResNetOverrides = Partial<Omit<CimResNetConfig, 'backbone'>> & { backbone?: Partial<ResNetConfig> };

/** The safetensors metadata of a CIM ResNet checkpoint (all values strings; lists comma-separated). */
export function cimResNetMetadata(c: CimResNetConfig): Record<string, string> {
  const b = c.backbone;
  return {
    architecture: 'cim-resnet',
    block: b.block,
    layers: b.layers.join(','),
    widths: b.widths.join(','),
    strides: b.strides.join(','),
    stem: b.stem,
    stem_width: String(b.stemWidth),
    bn_eps: String(b.bnEps),
    bn_momentum: String(b.bnMomentum),
    decoder_embed_dim: String(c.decoderEmbedDim),
    decoder_num_heads: String(c.decoderNumHeads),
    mlp_ratio: String(c.mlpRatio),
    context_size: String(c.contextSize),
    template_size: String(c.templateSize),
    templates: String(c.numTemplates),
  };
}

/** The inverse of `cimResNetMetadata`. */
export function cimResNetConfigFromMetadata(m: Record<string, string>): CimResNetConfig {
  const str = (k: string): string => {
    if (m[k] === undefined) throw new Error(`metadata lacks "${k}"`);
    return m[k];
  };
  const num = (k: string): number => {
    const v = Number(str(k));
    if (!Number.isFinite(v)) throw new Error(`metadata "${k}" is not a number: ${m[k]}`);
    return v;
  };
  const list = (k: string): number[] => str(k).split(',').map(Number);
  const block = str('block');
  const stem = str('stem');
  if (block !== 'basic' && block !== 'bottleneck') throw new Error(`metadata "block" must be basic or bottleneck, got ${block}`);
  if (stem !== 'imagenet' && stem !== 'cifar') throw new Error(`metadata "stem" must be imagenet or cifar, got ${stem}`);
  return checkCimResNetConfig({
    backbone: checkResNetConfig({
      block,
      layers: list('layers'),
      widths: list('widths'),
      strides: list('strides'),
      stem,
      stemWidth: num('stem_width'),
      bnEps: num('bn_eps'),
      bnMomentum: num('bn_momentum'),
    }),
    decoderEmbedDim: num('decoder_embed_dim'),
    decoderNumHeads: num('decoder_num_heads'),
    mlpRatio: num('mlp_ratio'),
    contextSize: num('context_size'),
    templateSize: num('template_size'),
    numTemplates: num('templates'),
  });
}
