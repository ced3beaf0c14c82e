/** The crop-and-correlate sampler's fields (libs/cim SamplerConfig), each optional and bounded. */
import { Type } from 'typebox';
import { MAX_IMAGE_SIDE } from './model-overrides-schema.ts';
import { Int, Num, PositiveNum } from './schema-parts.ts';

const pair = (lo: ReturnType<typeof Num>, hi: ReturnType<typeof Num>, description: string) => Type.Tuple([lo, hi], { description });

export const SamplerOverrides = Type.Object(
  {
    searchSize: Type.Optional(
      Int(4, MAX_IMAGE_SIDE, { description: 'side of the search image the context and exemplars are cut from, px' }),
    ),
    contextSize: Type.Optional(Int(4, MAX_IMAGE_SIDE)),
    exemplarSize: Type.Optional(Int(4, 512)),
    numExemplars: Type.Optional(Int(1, 32)),
    searchScale: Type.Optional(pair(PositiveNum(1), PositiveNum(1), '[lo, hi] area fraction')),
    searchRatio: Type.Optional(pair(PositiveNum(100), PositiveNum(100), '[lo, hi] aspect ratio')),
    exemplarScale: Type.Optional(pair(PositiveNum(1), PositiveNum(1), '[lo, hi] area fraction')),
    exemplarRatio: Type.Optional(pair(PositiveNum(100), PositiveNum(100), '[lo, hi] aspect ratio')),
    rotation: Type.Optional(Type.Tuple([Int(-180, 181), Int(-180, 181)], { description: '[lo, hi) degrees' })),
    augment: Type.Optional(Type.Boolean()),
    searchFlipP: Type.Optional(Num(0, 1)),
  },
  { additionalProperties: false },
);
