/**
 * Statistics of frozen features for the collapse analysis (issue 15, part 4): per-dimension spread,
 * the offset shared by all images, and the effective rank of Roy & Vetterli (2007): with σ the
 * singular values of the centred feature matrix and p = σ / Σσ, erank = exp(−Σ p·ln p), between 1
 * (every image varies along one direction) and D (all directions used equally).
 * Singular values come from the eigenvalues of the D×D scatter matrix (cyclic Jacobi), σ = √λ.
 */

export interface FeatureStatistics {
  images: number;
  dim: number;
  /** per-dimension standard deviation across images */
  perDimStd: Float64Array;
  meanStd: number;
  minStd: number;
  maxStd: number;
  /** RMS over dimensions of the per-dimension mean: the component every image shares */
  meanOffset: number;
  /** singular values of the centred [n, D] matrix, descending */
  singularValues: Float64Array;
  effectiveRank: number;
  /** effectiveRank < collapseRank (default 2): the features vary along about one direction */
  collapsed: boolean;
}

export function featureStatistics(x: Float32Array, D: number, o: { collapseRank?: number } = {}): FeatureStatistics {
  const n = x.length / D;
  if (!Number.isInteger(n) || n < 2) throw new Error(`featureStatistics: need at least 2 rows of ${D}, got ${x.length} values`);
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d] += x[i * D + d] / n;
  const scatter = new Float64Array(D * D);
  const row = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < D; d++) row[d] = x[i * D + d] - mean[d];
    for (let a = 0; a < D; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      for (let b = a; b < D; b++) scatter[a * D + b] += ra * row[b];
    }
  }
  for (let a = 0; a < D; a++) for (let b = 0; b < a; b++) scatter[a * D + b] = scatter[b * D + a];
  const perDimStd = new Float64Array(D);
  for (let d = 0; d < D; d++) perDimStd[d] = Math.sqrt(scatter[d * D + d] / n);
  const singularValues = symmetricEigenvalues(scatter, D)
    .map((l) => Math.sqrt(Math.max(l, 0)))
    .sort((a, b) => b - a);
  const total = singularValues.reduce((a, b) => a + b, 0);
  let entropy = 0;
  if (total > 0) {
    for (const s of singularValues) {
      const p = s / total;
      if (p > 0) entropy -= p * Math.log(p);
    }
  }
  const effectiveRank = total > 0 ? Math.exp(entropy) : 0;
  return {
    images: n,
    dim: D,
    perDimStd,
    meanStd: perDimStd.reduce((a, b) => a + b, 0) / D,
    minStd: Math.min(...perDimStd),
    maxStd: Math.max(...perDimStd),
    meanOffset: Math.sqrt(mean.reduce((a, b) => a + b * b, 0) / D),
    singularValues,
    effectiveRank,
    collapsed: effectiveRank < (o.collapseRank ?? 2),
  };
}

/** Eigenvalues of a symmetric D×D matrix (row-major; not modified), cyclic Jacobi rotations. */
export function symmetricEigenvalues(m: Float64Array, D: number, maxSweeps = 100): Float64Array {
  const a = Float64Array.from(m);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let p = 0; p < D; p++) {
      diag += a[p * D + p] ** 2;
      for (let q = p + 1; q < D; q++) off += a[p * D + q] ** 2;
    }
    if (off <= 1e-24 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < D; p++) {
      for (let q = p + 1; q < D; q++) {
        const apq = a[p * D + q];
        if (apq === 0) continue;
        const theta = (a[q * D + q] - a[p * D + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < D; k++) {
          const akp = a[k * D + p];
          const akq = a[k * D + q];
          a[k * D + p] = c * akp - s * akq;
          a[k * D + q] = s * akp + c * akq;
        }
        for (let k = 0; k < D; k++) {
          const apk = a[p * D + k];
          const aqk = a[q * D + k];
          a[p * D + k] = c * apk - s * aqk;
          a[q * D + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Float64Array.from({ length: D }, (_, i) => a[i * D + i]);
}
