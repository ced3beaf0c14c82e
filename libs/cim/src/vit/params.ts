/**
 * The parameter list of a CIM ViT (online encoder, the correlation decoder's, target encoder),
 * named as in the authors' PyTorch `state_dict`.
 */
import { correlationDecoderSpecs } from '../head/correlation-decoder.ts';
import { linearSpecs, normal, normSpecs, uniform, zeros, type ParamRole, type ParamSpec } from '../nn/params.ts';
import type { CimModelConfig } from './config.ts';

function blockSpecs(prefix: string, dim: number, hidden: number, role: ParamRole, trainable: boolean): ParamSpec[] {
  return [
    ...normSpecs(`${prefix}.norm1`, dim, role, trainable),
    ...linearSpecs(`${prefix}.attn.qkv`, dim, 3 * dim, role, trainable),
    ...linearSpecs(`${prefix}.attn.proj`, dim, dim, role, trainable),
    ...normSpecs(`${prefix}.norm2`, dim, role, trainable),
    ...linearSpecs(`${prefix}.mlp.fc1`, dim, hidden, role, trainable),
    ...linearSpecs(`${prefix}.mlp.fc2`, hidden, dim, role, trainable),
  ];
}

/** Online encoder parameter name → its target-encoder twin (patch_embed → patch_embed_c, …). */
export function targetNameOf(onlineName: string): string {
  return onlineName
    .replace(/^patch_embed\./, 'patch_embed_c.')
    .replace(/^blocks\./, 'blocks_c.')
    .replace(/^norm\./, 'norm_c.');
}

export function cimParamSpecs(c: CimModelConfig): ParamSpec[] {
  const D = c.embedDim;
  const p = c.patchSize;
  const hidden = Math.floor(D * c.mlpRatio);
  const patchBound = Math.sqrt(6 / (3 * p * p + D));
  const online: ParamSpec[] = [
    // frozen at its random init (MoCo v3's trick): no gradient, no optimizer state
    {
      name: 'patch_embed.proj.weight',
      torchShape: [D, 3, p, p],
      kind: 'patch-conv',
      role: 'online',
      trainable: false,
      decay: true,
      init: uniform(patchBound),
    },
    { name: 'patch_embed.proj.bias', torchShape: [D], kind: 'plain', role: 'online', trainable: false, decay: false, init: zeros() },
    { name: 'cls_token', torchShape: [1, 1, D], kind: 'plain', role: 'online', trainable: true, decay: true, init: normal(0.02) },
  ];
  for (let i = 0; i < c.depth; i++) online.push(...blockSpecs(`blocks.${i}`, D, hidden, 'online', true));
  online.push(...normSpecs('norm', D, 'online', true));
  const decoder = correlationDecoderSpecs(D, c.decoderEmbedDim, c.decoderNumHeads, c.mlpRatio);
  const target: ParamSpec[] = online
    .filter((s) => s.name !== 'cls_token')
    .map((s) => ({ ...s, name: targetNameOf(s.name), role: 'target' as const, trainable: false }));
  return [...online, ...decoder, ...target];
}
