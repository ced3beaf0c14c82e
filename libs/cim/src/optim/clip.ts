import * as tf from '@tensorflow/tfjs-core';

/**
 * Clip gradients by their global L2 norm (torch.nn.utils.clip_grad_norm_): when the norm exceeds
 * `maxNorm`, scale all by maxNorm / (norm + 1e-6). Returns the norm before clipping; replaces the
 * map's tensors (disposing the old ones) only when it scales.
 */
export async function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Promise<number> {
  const normT = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))));
  const norm = (await normT.data())[0]; // async: the webgpu backend has no synchronous read in Node
  normT.dispose();
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const [k, g] of grads) {
      grads.set(k, tf.mul(g, coef));
      g.dispose();
    }
  }
  return norm;
}
