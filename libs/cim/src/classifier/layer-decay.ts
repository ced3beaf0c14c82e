/**
 * Layer-wise learning-rate decay (BEiT / MAE `param_groups_lrd`): a parameter at layer id ℓ of a
 * depth-L ViT gets lr × decay^(L + 1 − ℓ), where ℓ = 0 for the embeddings (patch_embed, cls_token,
 * pos_embed), i + 1 for blocks.i, L + 1 for everything after the blocks (norm, fc_norm, head).
 * So block i gets decay^(L − i), the embeddings decay^(L + 1) and the head 1.
 */
export function layerIdOf(name: string, depth: number): number {
  if (name.startsWith('patch_embed') || name === 'cls_token' || name === 'pos_embed') return 0;
  const m = /^blocks\.(\d+)\./.exec(name);
  if (m) return Number(m[1]) + 1;
  return depth + 1;
}

export function layerLrScale(name: string, depth: number, decay: number): number {
  return decay ** (depth + 1 - layerIdOf(name, depth));
}
