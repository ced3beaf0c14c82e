/**
 * k-nearest-neighbour classification on frozen features (the paper protocol's k-NN column, k = 20,
 * cosine similarity), as DINO's `knn_classifier` (Caron et al. 2021, eval_knn.py): features are
 * L2-normalised, the k most similar training features vote for their labels with weight
 * exp(similarity / T), and the class with the largest total wins (ties: the smaller class index).
 * `temperature` 0 gives every neighbour one vote (plain majority).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface KnnOptions {
  k: number;
  /** DINO's T = 0.07; 0 = unweighted majority */
  temperature: number;
  numClasses: number;
  /** query rows per similarity matmul */
  chunk?: number;
}

export const defaultKnn = { k: 20, temperature: 0.07 } as const;

/** Predicted class of each query row. train [n, D], query [m, D] (row-major Float32Array). */
export async function knnPredict(
  train: Float32Array,
  trainLabels: ArrayLike<number>,
  query: Float32Array,
  D: number,
  o: KnnOptions,
): Promise<Int32Array> {
  const n = train.length / D;
  const m = query.length / D;
  if (trainLabels.length !== n) throw new Error(`knn: ${n} training features but ${trainLabels.length} labels`);
  const k = Math.min(o.k, n);
  if (!(k >= 1)) throw new Error(`knn: k must be >= 1, got ${o.k}`);
  const chunk = o.chunk ?? 256;
  const out = new Int32Array(m);
  const bank = tf.tidy(() => tf.transpose(l2Normalize(tf.tensor2d(train, [n, D])))); // [D, n]
  try {
    for (let i = 0; i < m; i += chunk) {
      const rows = Math.min(chunk, m - i);
      const { values, indices } = tf.tidy(() => {
        const q = l2Normalize(tf.tensor2d(query.subarray(i * D, (i + rows) * D), [rows, D]));
        return tf.topk(tf.matMul(q, bank), k, true);
      });
      const sims = (await values.data()) as Float32Array;
      const idx = (await indices.data()) as Int32Array;
      tf.dispose([values, indices]);
      const votes = new Float64Array(o.numClasses);
      for (let r = 0; r < rows; r++) {
        votes.fill(0);
        for (let j = 0; j < k; j++) {
          const s = sims[r * k + j];
          votes[trainLabels[idx[r * k + j]]] += o.temperature > 0 ? Math.exp(s / o.temperature) : 1;
        }
        let best = 0;
        for (let c = 1; c < o.numClasses; c++) if (votes[c] > votes[best]) best = c;
        out[i + r] = best;
      }
    }
  } finally {
    bank.dispose();
  }
  return out;
}

/** Top-1 of knnPredict against `queryLabels`. */
export async function knnTop1(
  train: Float32Array,
  trainLabels: ArrayLike<number>,
  query: Float32Array,
  queryLabels: ArrayLike<number>,
  D: number,
  o: KnnOptions,
): Promise<number> {
  const p = await knnPredict(train, trainLabels, query, D, o);
  let ok = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === queryLabels[i]) ok++;
  return ok / p.length;
}

function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;
}
