/**
 * What the paper reads off a trained W (per instance, W is n x m with row i = feature i's direction W_i):
 * feature norms ||W_i||, superposition sum_{j != i} (W^_i . W_j)^2, dimensions per feature D* = m / ||W||_F^2,
 * and feature dimensionality D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2.
 */

export interface FeatureMetrics {
  /** ||W_i|| for each feature: about 1 when represented, 0 when not. */
  norms: number[];
  /** sum_{j != i} (W^_i . W_j)^2: 0 when orthogonal to all other features, >= 1 when another can activate it fully. */
  superposition: number[];
  /** D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2 (0 for an unlearned feature, 1/2 for an antipodal pair). */
  dimensionality: number[];
  /** D* = m / ||W||_F^2. */
  dimensionsPerFeature: number;
}

/** Metrics of one instance's W, read from `data` at `offset` (n x m, row-major). */
export function featureMetrics(data: Float32Array, offset: number, n: number, m: number): FeatureMetrics {
  const row = (i: number) => data.subarray(offset + i * m, offset + (i + 1) * m);
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, k) => s + v * b[k], 0);
  const norms = Array.from({ length: n }, (_, i) => Math.sqrt(dot(row(i), row(i))));
  const superposition: number[] = [];
  const dimensionality: number[] = [];
  let frob = 0;
  for (let i = 0; i < n; i++) {
    frob += norms[i] ** 2;
    // The notebook's unit vector W_i / (1e-5 + ||W_i||): an unlearned feature then has no superposition.
    const unit = row(i).map((v) => v / (1e-5 + norms[i]));
    let others = 0;
    let all = 0;
    for (let j = 0; j < n; j++) {
      const c = dot(unit, row(j)) ** 2;
      all += c;
      if (j !== i) others += c;
    }
    superposition.push(others);
    dimensionality.push(all > 0 ? norms[i] ** 2 / all : 0);
  }
  return { norms, superposition, dimensionality, dimensionsPerFeature: frob > 0 ? m / frob : Infinity };
}
