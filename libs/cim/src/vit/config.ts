/** The shape of a CIM ViT model. Sizes are in pixels; grids are sizes / patchSize. */
export interface CimModelConfig {
  /** the image size the encoder's sin-cos position grid is built for (official 224) */
  imgSize: number;
  patchSize: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  decoderEmbedDim: number;
  decoderNumHeads: number;
  /** side of the context the target encoder sees (official 160) */
  contextSize: number;
  /** side of each exemplar (template) (official 64) */
  templateSize: number;
  /** exemplars per image (official 6) */
  numTemplates: number;
}

const official = { imgSize: 224, patchSize: 16, mlpRatio: 4, contextSize: 160, templateSize: 64, numTemplates: 6 };

/** ViT-Tiny/16 encoder, 512-d 16-head correlation decoder (the recipe's bench-vit-tiny). */
export const cimVitTinyPatch16 = (o: Partial<CimModelConfig> = {}): CimModelConfig =>
  checkModelConfig({ ...official, embedDim: 192, depth: 12, numHeads: 3, decoderEmbedDim: 512, decoderNumHeads: 16, ...o });
export const cimVitSmallPatch16 = (o: Partial<CimModelConfig> = {}): CimModelConfig =>
  checkModelConfig({ ...official, embedDim: 384, depth: 12, numHeads: 6, decoderEmbedDim: 512, decoderNumHeads: 16, ...o });
export const cimVitBasePatch16 = (o: Partial<CimModelConfig> = {}): CimModelConfig =>
  checkModelConfig({ ...official, embedDim: 768, depth: 12, numHeads: 12, decoderEmbedDim: 512, decoderNumHeads: 16, ...o });
export const cimVitLargePatch16 = (o: Partial<CimModelConfig> = {}): CimModelConfig =>
  checkModelConfig({ ...official, embedDim: 1024, depth: 24, numHeads: 16, decoderEmbedDim: 512, decoderNumHeads: 16, ...o });

/**
 * Small-image variants for CPU work: patch 4 on 32×32 images (an 8×8 grid), context 32,
 * exemplars 16 (4×4 grid), six exemplars. Micro (64-d, depth 4, 64-d decoder) trains at roughly
 * 20 images/s on one core with the wasm backend; Tiny/4 is ViT-Tiny's encoder on that grid.
 */
export const cimVitMicroPatch4 = (o: Partial<CimModelConfig> = {}): CimModelConfig =>
  checkModelConfig({
    imgSize: 32,
    patchSize: 4,
    embedDim: 64,
    depth: 4,
    numHeads: 4,
    mlpRatio: 4,
    decoderEmbedDim: 64,
    decoderNumHeads: 4,
    contextSize: 32,
    templateSize: 16,
    numTemplates: 6,
    ...o,
  });
export const cimVitTinyPatch4 = (o: Partial<CimModelConfig> = {}): CimModelConfig =>
  checkModelConfig({
    imgSize: 32,
    patchSize: 4,
    embedDim: 192,
    depth: 12,
    numHeads: 3,
    mlpRatio: 4,
    decoderEmbedDim: 256,
    decoderNumHeads: 8,
    contextSize: 32,
    templateSize: 16,
    numTemplates: 6,
    ...o,
  });

export const modelFactories = {
  cimVitTinyPatch16,
  cimVitSmallPatch16,
  cimVitBasePatch16,
  cimVitLargePatch16,
  cimVitMicroPatch4,
  cimVitTinyPatch4,
} as const;
export type ModelName = keyof typeof modelFactories;

export function checkModelConfig(c: CimModelConfig): CimModelConfig {
  const ints: Array<keyof CimModelConfig> = [
    'imgSize',
    'patchSize',
    'embedDim',
    'depth',
    'numHeads',
    'decoderEmbedDim',
    'decoderNumHeads',
    'contextSize',
    'templateSize',
    'numTemplates',
  ];
  for (const k of ints) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`model config: ${k} must be a positive integer, got ${c[k]}`);
  }
  for (const k of ['imgSize', 'contextSize', 'templateSize'] as const) {
    if (c[k] % c.patchSize !== 0) throw new Error(`model config: ${k} ${c[k]} is not a multiple of patchSize ${c.patchSize}`);
  }
  if (c.embedDim % c.numHeads !== 0) throw new Error(`model config: embedDim ${c.embedDim} is not divisible by numHeads ${c.numHeads}`);
  if (c.decoderEmbedDim % c.decoderNumHeads !== 0) {
    throw new Error(`model config: decoderEmbedDim ${c.decoderEmbedDim} is not divisible by decoderNumHeads ${c.decoderNumHeads}`);
  }
  if (c.embedDim % 4 !== 0 || c.decoderEmbedDim % 4 !== 0)
    throw new Error('model config: embedDim and decoderEmbedDim must be multiples of 4 (sin-cos embedding)');
  if (!(c.mlpRatio > 0)) throw new Error(`model config: mlpRatio must be positive, got ${c.mlpRatio}`);
  return c;
}

/** The safetensors metadata of a ViT checkpoint: the keys of the authors' fixture (all values strings). */
export function modelMetadata(c: CimModelConfig): Record<string, string> {
  return {
    img_size: String(c.imgSize),
    patch_size: String(c.patchSize),
    embed_dim: String(c.embedDim),
    depth: String(c.depth),
    num_heads: String(c.numHeads),
    mlp_ratio: String(c.mlpRatio),
    decoder_embed_dim: String(c.decoderEmbedDim),
    decoder_num_heads: String(c.decoderNumHeads),
    context_size: String(c.contextSize),
    template_size: String(c.templateSize),
    templates: String(c.numTemplates),
  };
}

/**
 * A ViT config from a safetensors fixture's or checkpoint's metadata (all values strings). A file
 * whose `architecture` names another backbone (a CIM ResNet) is refused by name.
 */
export function modelConfigFromMetadata(m: Record<string, string>): CimModelConfig {
  if (m.architecture !== undefined && m.architecture !== 'cim-vit') {
    throw new Error(`the weights hold a ${m.architecture} model, not a ViT (only CIM ViT checkpoints can be used here)`);
  }
  const num = (k: string, fallback?: number): number => {
    if (m[k] === undefined) {
      if (fallback !== undefined) return fallback;
      throw new Error(`metadata lacks "${k}"`);
    }
    const v = Number(m[k]);
    if (!Number.isFinite(v)) throw new Error(`metadata "${k}" is not a number: ${m[k]}`);
    return v;
  };
  return checkModelConfig({
    imgSize: num('img_size'),
    patchSize: num('patch_size'),
    embedDim: num('embed_dim'),
    depth: num('depth'),
    numHeads: num('num_heads'),
    mlpRatio: num('mlp_ratio', 4),
    decoderEmbedDim: num('decoder_embed_dim'),
    decoderNumHeads: num('decoder_num_heads'),
    contextSize: num('context_size'),
    templateSize: num('template_size'),
    numTemplates: num('templates', 6),
  });
}
