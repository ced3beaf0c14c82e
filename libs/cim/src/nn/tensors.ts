import * as tf from '@tensorflow/tfjs-core';

/**
 * A variable made from a fresh tensor. `tf.variable` and `Variable.assign` take a reference to the
 * tensor's data but leave the tensor itself registered, so the temporary must be disposed.
 */
export function newVariable(init: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(init, trainable);
  init.dispose();
  return v;
}

/** Overwrite a variable's values (same shape), leaving no temporary behind. */
export function assignValues(v: tf.Variable, data: Float32Array): void {
  const t = tf.tensor(data, v.shape);
  v.assign(t);
  t.dispose();
}
