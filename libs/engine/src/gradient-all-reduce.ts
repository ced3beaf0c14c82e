/**
 * The data-parallel exchange of one optimizer step, shared by pre-training (CimTrainer) and
 * fine-tuning: one flat buffer of every gradient, the BatchNorm running statistics, the loss and
 * this rank's stop vote, averaged across ranks in one all-reduce. Every rank then holds the same
 * mean gradients, the same running statistics (assigned to the model's buffers) and the same loss
 * and stop decision, so an identical optimizer step keeps the weights bit-identical.
 */
import * as tf from '@tensorflow/tfjs-core';
import { assignValues } from '@cim-forge/cim';
import type { Collective } from './collective.ts';

export interface GradientAllReduceResult {
  /** the mean loss across ranks */
  loss: number;
  /** some rank voted to stop */
  stop: boolean;
  allReduceSeconds: number;
  /** bytes this rank sent into the all-reduce */
  allReduceBytes: number;
}

/**
 * Replace each of `grads` (keyed by `names`) with its mean across ranks (the originals are
 * disposed) and each of `buffers` (variables of `p`) with its mean. Call only with worldSize > 1.
 */
export async function allReduceGradients(
  collective: Collective,
  p: (name: string) => tf.Variable,
  names: readonly string[],
  buffers: readonly string[],
  grads: Map<string, tf.Tensor>,
  loss: number,
  stopVote: boolean,
): Promise<GradientAllReduceResult> {
  const flat = tf.tidy(() =>
    tf.concat([
      ...names.map((n) => tf.reshape(grads.get(n)!, [-1])),
      ...buffers.map((n) => tf.reshape(p(n), [-1])),
      tf.tensor1d([loss, stopVote ? 1 : 0]),
    ]),
  );
  const host = (await flat.data()) as Float32Array;
  tf.dispose([flat, ...grads.values()]);
  const r0 = performance.now();
  // in place: the mean overwrites `host` (flat is disposed, so nothing else holds that array), and
  // the all-reduce allocates no result array (a fresh 344 MB one cost seconds of page faults)
  const avg = collective.allReduceMeanInto ? await collective.allReduceMeanInto(host, host) : await collective.allReduceMean(host);
  const allReduceSeconds = (performance.now() - r0) / 1000;
  let o = 0;
  for (const n of names) {
    const v = p(n);
    grads.set(n, tf.tensor(avg.subarray(o, o + v.size), v.shape));
    o += v.size;
  }
  for (const n of buffers) {
    const v = p(n);
    assignValues(v, avg.subarray(o, o + v.size));
    o += v.size;
  }
  return { loss: avg[avg.length - 2], stop: avg[avg.length - 1] > 0, allReduceSeconds, allReduceBytes: host.byteLength };
}
