import type { CimBatch, CimSample, SamplerConfig } from './types.ts';

/**
 * Stacks samples into a template-major batch: context [B, C, C, 3], exemplars [T, B, S, S, 3],
 * masks [T, B, C, C], so that exemplar t of the whole batch is one contiguous slice.
 */
export function collate(
  samples: readonly CimSample[],
  cfg: Pick<SamplerConfig, 'contextSize' | 'exemplarSize' | 'numExemplars'>,
): CimBatch {
  const B = samples.length;
  const T = cfg.numExemplars;
  const C = cfg.contextSize;
  const E = cfg.exemplarSize;
  if (B === 0) throw new Error('collate: no samples');
  const ctxLen = C * C * 3;
  const exLen = E * E * 3;
  const maskLen = C * C;
  const context = new Float32Array(B * ctxLen);
  const exemplars = new Float32Array(T * B * exLen);
  const masks = new Uint8Array(T * B * maskLen);
  samples.forEach((s, b) => {
    if (s.context.length !== ctxLen || s.exemplars.length !== T * exLen || s.masks.length !== T * maskLen) {
      throw new Error(
        `collate: sample ${b} has context ${s.context.length}, exemplars ${s.exemplars.length}, masks ${s.masks.length}; ` +
          `expected ${ctxLen}, ${T * exLen}, ${T * maskLen} for contextSize ${C}, exemplarSize ${E}, numExemplars ${T}`,
      );
    }
    context.set(s.context, b * ctxLen);
    for (let t = 0; t < T; t++) {
      exemplars.set(s.exemplars.subarray(t * exLen, (t + 1) * exLen), (t * B + b) * exLen);
      masks.set(s.masks.subarray(t * maskLen, (t + 1) * maskLen), (t * B + b) * maskLen);
    }
  });
  return { batchSize: B, numExemplars: T, contextSize: C, exemplarSize: E, context, exemplars, masks };
}
