/**
 * Overrides of a model factory's fields (`modelOverrides`): a ViT's fields, or a ResNet's with its
 * `backbone`. Which fields a model takes is the model lib's business (`cimModelConfig` refuses a
 * ViT field given to a ResNet); the bounds here keep every one within what a worker could hold.
 */
import { Type } from 'typebox';
import { Int, PositiveNum, Num, StringEnum } from './schema-parts.ts';

/** pixels of an image side, and of a patch */
export const MAX_IMAGE_SIDE = 1024;

export const vitOverrideFields = {
  imgSize: Int(4, MAX_IMAGE_SIDE, { description: 'the side the sin-cos position grid is built for, px' }),
  patchSize: Int(1, 64, { description: 'px' }),
  embedDim: Int(4, 4096, { description: 'a multiple of 4 and of numHeads' }),
  depth: Int(1, 48, { description: 'transformer blocks' }),
  numHeads: Int(1, 64),
  mlpRatio: PositiveNum(16, { description: 'MLP hidden width / embedDim' }),
  decoderEmbedDim: Int(4, 4096, { description: 'a multiple of 4 and of decoderNumHeads' }),
  decoderNumHeads: Int(1, 64),
  contextSize: Int(4, MAX_IMAGE_SIDE, { description: 'the context side, px' }),
  templateSize: Int(4, 512, { description: 'the exemplar side, px' }),
  numTemplates: Int(1, 32, { description: 'exemplars per image' }),
};

const stageList = (min: number, max: number, description: string) => Type.Array(Int(min, max), { minItems: 1, maxItems: 6, description });

export const ResNetOverrides = Type.Object(
  {
    block: Type.Optional(StringEnum(['basic', 'bottleneck'] as const)),
    layers: Type.Optional(stageList(1, 64, 'blocks per stage')),
    widths: Type.Optional(stageList(1, 2048, 'base width per stage')),
    strides: Type.Optional(stageList(1, 4, "stride of each stage's first block")),
    stem: Type.Optional(StringEnum(['imagenet', 'cifar'] as const)),
    stemWidth: Type.Optional(Int(1, 1024)),
    bnEps: Type.Optional(PositiveNum(1)),
    bnMomentum: Type.Optional(Num(0, 1)),
  },
  { additionalProperties: false },
);

/** every field optional: a ViT's (all but `backbone`) or a ResNet's (`backbone` and the decoder's) */
export const ModelOverrides = Type.Object(
  {
    ...Object.fromEntries(Object.entries(vitOverrideFields).map(([k, v]) => [k, Type.Optional(v)])),
    backbone: Type.Optional(ResNetOverrides),
  } as { [K in keyof typeof vitOverrideFields]: ReturnType<typeof Type.Optional<(typeof vitOverrideFields)[K]>> } & {
    backbone: ReturnType<typeof Type.Optional<typeof ResNetOverrides>>;
  },
  {
    additionalProperties: false,
    description: "fields of the model factory's config to change (ResNet: `backbone` fields merge into its backbone)",
  },
);

/** a fine-tune's encoder is a ViT: only ViT fields */
export const VitOverrides = Type.Partial(Type.Object(vitOverrideFields), { additionalProperties: false });
