import * as tf from '@tensorflow/tfjs-core';
import type { CimBatch } from '@cim-forge/cim';

export interface BatchTensors {
  /** [B, C, C, 3] */
  context: tf.Tensor4D;
  /** [T·B, S, S, 3], template-major */
  templates: tf.Tensor4D;
  /** [T·B, C, C] in {0, 1} */
  masks: tf.Tensor3D;
  batchSize: number;
}

export function batchTensors(b: CimBatch): BatchTensors {
  const { batchSize: B, numExemplars: T, contextSize: C, exemplarSize: S } = b;
  return {
    context: tf.tensor4d(b.context, [B, C, C, 3]),
    templates: tf.tensor4d(b.exemplars, [T * B, S, S, 3]),
    masks: tf.tensor3d(Float32Array.from(b.masks), [T * B, C, C]),
    batchSize: B,
  };
}

export function disposeBatch(t: BatchTensors): void {
  tf.dispose([t.context, t.templates, t.masks]);
}
