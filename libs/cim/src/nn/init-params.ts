import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.ts';
import { newVariable } from './tensors.ts';
import { fromTorch, ourShape, type ParamSpec } from './params.ts';

/**
 * A variable for every spec: online and decoder parameters drawn from `seed` in spec order, and
 * each target-encoder parameter starting as a copy of its online twin (`onlineNameOf`).
 */
export function initParams(
  specs: readonly ParamSpec[],
  seed: number,
  onlineNameOf: (targetName: string) => string,
): Map<string, tf.Variable> {
  const rng = new Rng(seed);
  const values = new Map<string, Float32Array>();
  for (const s of specs) {
    if (s.role === 'target') continue;
    const v = new Float32Array(s.torchShape.reduce((a, b) => a * b, 1));
    s.init(rng, v);
    values.set(s.name, v);
  }
  const params = new Map<string, tf.Variable>();
  for (const s of specs) {
    const v = values.get(s.role === 'target' ? onlineNameOf(s.name) : s.name)!;
    params.set(s.name, newVariable(tf.tensor(fromTorch(s, v), ourShape(s)), s.trainable));
  }
  return params;
}
