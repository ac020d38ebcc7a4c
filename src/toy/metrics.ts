/**
 * What the paper reads off a trained W (per instance, W is n x m with row i = feature i's direction W_i):
 * feature norms ||W_i||, superposition sum_{j != i} (W^_i . W_j)^2, dimensions per feature D* = m / ||W||_F^2,
 * feature dimensionality D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2, and, for models with neurons (a privileged
 * hidden basis: relu-hidden, and W1 of the |x| model), each neuron's monosemanticity max_f |W_fn| / ||W_.n||.
 * Divisions are guarded so that dead features and dead neurons read 0, never NaN.
 */

export interface FeatureMetrics {
  /** ||W_i|| for each feature: about 1 when represented, 0 when not. */
  norms: number[];
  /** sum_{j != i} (W^_i . W_j)^2: 0 when orthogonal to all other features, >= 1 when another can activate it fully. */
  superposition: number[];
  /** D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2 (0 for an unlearned feature, 1/2 for an antipodal pair). */
  dimensionality: number[];
  /** D* = m / ||W||_F^2 (Infinity for W = 0: no feature is represented). */
  dimensionsPerFeature: number;
}

/** A feature counts as represented when ||W_i|| reaches this (represented features sit near 1, dropped ones near 0). */
export const REPRESENTED_NORM = 0.5;

/** The number of features whose norm ||W_i|| is at least `threshold`. */
export function countRepresented(norms: readonly number[], threshold = REPRESENTED_NORM): number {
  return norms.filter((v) => v >= threshold).length;
}

/** Per-neuron metrics of one instance's W (neuron n is column n). */
export interface NeuronMetrics {
  /** max_f |W_fn| / ||W_.n|| per neuron: 1 when one feature owns it, 1/sqrt(k) when k share it equally; 0 when dead. */
  monosemanticity: number[];
  /** ||W_.n|| per neuron. */
  norms: number[];
  /** The feature with the largest |W_fn| per neuron. */
  topFeature: number[];
}

/** Neuron metrics of one instance's W (n x m at `offset`, row-major; neuron n is column n). */
export function neuronMetrics(data: Float32Array, offset: number, n: number, m: number): NeuronMetrics {
  const out: NeuronMetrics = { monosemanticity: [], norms: [], topFeature: [] };
  for (let j = 0; j < m; j++) {
    let sq = 0;
    let top = 0;
    for (let f = 0; f < n; f++) {
      const v = data[offset + f * m + j];
      sq += v * v;
      if (Math.abs(v) > Math.abs(data[offset + top * m + j])) top = f;
    }
    const norm = Math.sqrt(sq);
    out.norms.push(norm);
    out.topFeature.push(top);
    out.monosemanticity.push(norm > 0 ? Math.abs(data[offset + top * m + j]) / norm : 0);
  }
  return out;
}

/**
 * A neuron is monosemantic when max_f |W_fn| / ||W_.n|| exceeds this, in train.ts and the phase sweeps alike (one
 * model, one count). ARENA uses 0.99; trained neuron models put the two groups far apart (monosemantic neurons
 * 0.989-1.0, polysemantic ones at most ~0.84 in our sweeps) and 0.99 splits the first group: at density 0.5 the
 * best model's last neuron reads a sixth feature with weight ~0.1 (0.989), a neuron the paper's figure draws as
 * monosemantic.
 */
export const MONOSEMANTIC = 0.95;

/** The number of neurons whose monosemanticity exceeds `threshold`. */
export function countMonosemantic(monosemanticity: readonly number[], threshold = MONOSEMANTIC): number {
  return monosemanticity.filter((v) => v > threshold).length;
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
    frob += norms[i] * norms[i];
    // The notebook's unit vector W_i / (1e-5 + ||W_i||): an unlearned feature then has no superposition.
    const unit = row(i).map((v) => v / (1e-5 + norms[i]));
    let others = 0;
    let all = 0;
    for (let j = 0; j < n; j++) {
      const d = dot(unit, row(j));
      const c = d * d;
      all += c;
      if (j !== i) others += c;
    }
    superposition.push(others);
    dimensionality.push(all > 0 ? (norms[i] * norms[i]) / all : 0);
  }
  return { norms, superposition, dimensionality, dimensionsPerFeature: frob > 0 ? m / frob : Infinity };
}

/**
 * For a model with two hidden dimensions: the angles (degrees) between neighbouring directions of the features
 * represented (||W_i|| >= REPRESENTED_NORM), going round the circle; they sum to 360. The intro's pentagon is
 * five gaps of 72 degrees, two antipodal pairs and a dropped feature four of 90.
 */
export function angularGaps(data: Float32Array, offset: number, n: number): number[] {
  const angles: number[] = [];
  for (let i = 0; i < n; i++) {
    const [x, y] = [data[offset + 2 * i], data[offset + 2 * i + 1]];
    if (Math.hypot(x, y) >= REPRESENTED_NORM) angles.push((Math.atan2(y, x) * 180) / Math.PI);
  }
  angles.sort((a, b) => a - b);
  return angles.map((a, k) => (k + 1 < angles.length ? angles[k + 1] : angles[0] + 360) - a);
}

/** Whether every one of n features is represented and the gaps are 360/n within `tolerance` degrees (a regular n-gon). */
export function isRegularPolygon(gaps: readonly number[], n: number, tolerance = 5): boolean {
  return gaps.length === n && gaps.every((g) => Math.abs(g - 360 / n) <= tolerance);
}
