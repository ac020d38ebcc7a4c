/**
 * The feature phase diagrams' theory at each candidate's optimum. theory.ts scores each candidate geometry at
 * fixed weights (unit norms, zero or mean biases), as the paper's theory does; here each candidate keeps its
 * geometry (the directions of its features) while its norms and biases are optimised against the exact expected
 * loss, and the extra feature of the best candidate is labelled by the same classifier as a trained model.
 *
 * The exact expected loss of x' = ReLU(W W^T x + b) (W n x m, row i = feature i), features 0 with probability
 * 1 - s and otherwise U[0, 1), loss sum_i I_i (x_i - x'_i)^2: a sum over the 2^n activity patterns, each an
 * integral over the unit cube of its active features. The integrand is a piecewise quadratic whose pieces meet
 * where some pre-activation crosses 0: the innermost variable is integrated in closed form, and every outer one
 * by 3-point Gauss-Legendre on the pieces between those crossings, where the inner integral is a polynomial of
 * degree at most 5 (exact for Gauss-Legendre 3). The result is exact up to rounding: no sampling.
 */
import { nelderMead } from 'fmin';
import { classifyExtraFeature, DEFAULT_FEATURE_THRESHOLDS, type FeatureThresholds } from './classify.ts';
import type { FeatureExperiment, FeatureRegime } from './theory.ts';

const GL_NODES = [0.5 - Math.sqrt(15) / 10, 0.5, 0.5 + Math.sqrt(15) / 10];
const GL_WEIGHTS = [5 / 18, 8 / 18, 5 / 18];

/** The integral of (c0 + c1 t)^2 over [lo, hi] (0 when empty). */
function squareIntegral(c0: number, c1: number, lo: number, hi: number): number {
  if (hi <= lo) return 0;
  return c0 * c0 * (hi - lo) + c0 * c1 * (hi * hi - lo * lo) + (c1 * c1 * (hi * hi * hi - lo * lo * lo)) / 3;
}

/**
 * The exact expected loss sum_i I_i E[(x_i - ReLU((G x)_i + b_i))^2] with G = W W^T (n x n), every feature of
 * density s. n up to about 4 (the sum has 2^n patterns).
 */
export function exactLoss(G: readonly (readonly number[])[], b: readonly number[], importance: readonly number[], s: number): number {
  const n = b.length;
  let total = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    const active = Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i));
    const p = s ** active.length * (1 - s) ** (n - active.length);
    if (p === 0) continue;
    total += p * patternIntegral(G, b, importance, active);
  }
  return total;
}

/** The integral over [0,1]^k of the loss with only the features `active` non-zero. */
function patternIntegral(G: readonly (readonly number[])[], b: readonly number[], importance: readonly number[], active: readonly number[]): number {
  const n = b.length;
  const k = active.length;
  const x = new Float64Array(n); // values of the active features fixed so far (others stay 0)
  if (k === 0) return b.reduce((sum, bi, i) => sum + importance[i] * Math.max(0, bi) ** 2, 0);
  const last = active[k - 1];
  // The innermost variable t = x_last in closed form: per output, the error is (target - pre) where pre > 0, else target.
  const innermost = (): number => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let alpha = b[i];
      for (let d = 0; d < k - 1; d++) alpha += G[i][active[d]] * x[active[d]];
      const beta = G[i][last];
      const [gamma, delta] = i === last ? [0, 1] : [x[i], 0]; // the target, gamma + delta t
      let on: [number, number];
      if (beta > 0) on = [Math.min(1, Math.max(0, -alpha / beta)), 1];
      else if (beta < 0) on = [0, Math.min(1, Math.max(0, -alpha / beta))];
      else on = alpha > 0 ? [0, 1] : [0, 0];
      const inside = squareIntegral(gamma - alpha, delta - beta, on[0], on[1]);
      const outside = squareIntegral(gamma, delta, 0, on[0]) + squareIntegral(gamma, delta, on[1], 1);
      sum += importance[i] * (inside + outside);
    }
    return sum;
  };
  const outer = (d: number): number => {
    if (d === k - 1) return innermost();
    const f = active[d];
    // Where some pre-activation crosses 0 at a corner of the inner variables: the inner integral's pieces.
    const cuts = [0, 1];
    const innerCorners = 1 << (k - 1 - d);
    for (let i = 0; i < n; i++) {
      const c = G[i][f];
      if (c === 0) continue;
      let base = b[i];
      for (let e = 0; e < d; e++) base += G[i][active[e]] * x[active[e]];
      for (let corner = 0; corner < innerCorners; corner++) {
        let v = base;
        for (let e = d + 1; e < k; e++) if (corner & (1 << (e - d - 1))) v += G[i][active[e]];
        const t = -v / c;
        if (t > 0 && t < 1) cuts.push(t);
      }
    }
    cuts.sort((p, q) => p - q);
    let sum = 0;
    for (let q = 0; q + 1 < cuts.length; q++) {
      const [lo, hi] = [cuts[q], cuts[q + 1]];
      if (hi - lo < 1e-15) continue;
      for (let g = 0; g < 3; g++) {
        x[f] = lo + (hi - lo) * GL_NODES[g];
        sum += (hi - lo) * GL_WEIGHTS[g] * outer(d + 1);
      }
    }
    x[f] = 0;
    return sum;
  };
  return outer(0);
}

/** G = W W^T of W given as rows. */
export const gram = (W: readonly (readonly number[])[]): number[][] => W.map((a) => W.map((c) => a.reduce((sum, v, h) => sum + v * c[h], 0)));

/** A candidate geometry: each feature's unit direction in the hidden space, or null for a dropped feature. */
export interface OptimalCandidate {
  name: string;
  directions: readonly (readonly number[] | null)[];
}

const at = (degrees: number): number[] => [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180)];

/**
 * The geometries whose norms and biases are optimised. Beyond the paper's candidates: pairs with unequal norms
 * (a pair's two norms are free), both features on one direction (the "confused" minimum Tom McGrath found for
 * 2 -> 1), and for 3 -> 2 the triangle and the pair of the first feature with the extra one.
 */
export const OPTIMAL_CANDIDATES: Record<FeatureExperiment, OptimalCandidate[]> = {
  'feature-2x1': [
    { name: 'extra dropped', directions: [[1], null] },
    { name: 'feature 1 dropped, extra dedicated', directions: [null, [1]] },
    { name: 'antipodal pair (1, extra)', directions: [[1], [-1]] },
    { name: 'one direction for both', directions: [[1], [1]] },
  ],
  'feature-3x2': [
    { name: 'extra dropped', directions: [[1, 0], [0, 1], null] },
    { name: 'feature 1 dropped, extra dedicated', directions: [null, [1, 0], [0, 1]] },
    { name: 'antipodal pair (1, 2), extra dedicated', directions: [[1, 0], [-1, 0], [0, 1]] },
    { name: 'antipodal pair (2, extra)', directions: [[1, 0], [0, 1], [0, -1]] },
    { name: 'antipodal pair (1, extra)', directions: [[1, 0], [0, 1], [-1, 0]] },
    { name: 'triangle', directions: [at(90), at(210), at(330)] },
  ],
};

/** A candidate geometry after optimising its norms and biases: its exact loss, weights and extra-feature label. */
export interface OptimisedCandidate {
  name: string;
  loss: number;
  /** The optimised weights (rows: features) and biases. */
  W: number[][];
  b: number[];
  /** The extra feature's label under the trained models' classifier. */
  regime: FeatureRegime;
}

/** W and b of a candidate from its free parameters: |norm| of each represented feature, then every bias. */
function weightsOf(c: OptimalCandidate, theta: readonly number[], m: number): { W: number[][]; b: number[] } {
  let k = 0;
  const W = c.directions.map((u) => {
    if (!u) return Array(m).fill(0);
    const norm = Math.abs(theta[k++]);
    return u.map((v) => norm * v);
  });
  return { W, b: theta.slice(k, k + c.directions.length) };
}

/**
 * Optimise one candidate's norms and biases at density s with importances I: Nelder-Mead from the paper's
 * candidate (unit norms, zero biases; a dropped feature's bias at its mean s/2), restarted once from its result,
 * and with `unequalStarts` also from each start with one represented feature at half norm (a pair's two mirror
 * optima, one feature strong and the other weak, are nearly tied near r = 1: one start finds only one of them).
 */
export function optimiseCandidate(c: OptimalCandidate, importance: readonly number[], s: number, thresholds: FeatureThresholds = DEFAULT_FEATURE_THRESHOLDS, unequalStarts = false): OptimisedCandidate {
  const m = c.directions.find((u) => u)!.length;
  const loss = (theta: number[]): number => {
    const { W, b } = weightsOf(c, theta, m);
    return exactLoss(gram(W), b, importance, s);
  };
  const norms = c.directions.filter((u) => u).map(() => 1);
  const biases = c.directions.map((u) => (u ? 0 : s / 2));
  const starts = [norms, ...(unequalStarts && norms.length > 1 ? norms.map((_, k) => norms.map((v, j) => (j === k ? 0.5 : v))) : [])];
  const options = { maxIterations: 400 * (norms.length + biases.length), minErrorDelta: 1e-12 };
  let best = { x: [] as number[], fx: Infinity };
  for (const start of starts) {
    let run = nelderMead(loss, [...start, ...biases], options);
    run = nelderMead(loss, run.x, options);
    if (run.fx < best.fx) best = run;
  }
  const { W, b } = weightsOf(c, best.x, m);
  const n = W.length;
  const regime = classifyExtraFeature(Float32Array.from(W.flat()), 0, n, m, thresholds).regime;
  return { name: c.name, loss: best.fx, W, b, regime };
}

/** Every candidate of an experiment optimised at (s, r), cheapest first. */
export function optimalCandidates(experiment: FeatureExperiment, s: number, r: number): OptimisedCandidate[] {
  const n = experiment === 'feature-2x1' ? 2 : 3;
  const importance = [...Array(n - 1).fill(1), r];
  // 2 -> 1 is cheap enough to try both mirror optima of every pair; 3 -> 2 starts from the paper's candidates only
  return OPTIMAL_CANDIDATES[experiment].map((c) => optimiseCandidate(c, importance, s, DEFAULT_FEATURE_THRESHOLDS, n === 2)).sort((p, q) => p.loss - q.loss);
}

/** The regime of the extra feature in the cheapest optimised candidate at (s, r). */
export function optimalRegime(experiment: FeatureExperiment, s: number, r: number): FeatureRegime {
  return optimalCandidates(experiment, s, r)[0].regime;
}

/**
 * Along r = 1 of the 2 -> 1 diagram, the density where the optimal regime stops being superposition (the
 * paper's fixed-weight theory puts this triple point at 4/7): bisection between 4/7 and `hi`, to `tolerance`;
 * null when it is still superposition at `hi`.
 */
export function optimalTripleDensity(hi = 0.99, tolerance = 1e-3): number | null {
  const superposed = (s: number) => optimalRegime('feature-2x1', s, 1) === 'superposition';
  let lo = 4 / 7;
  if (!superposed(lo)) return lo;
  if (superposed(hi)) return null;
  while (hi - lo > tolerance) {
    const mid = (lo + hi) / 2;
    if (superposed(mid)) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The 2 -> 1 diagram's boundaries at the candidates' optima, as curves r(s) over `densities` (for drawing beside
 * the paper's): at each density, where along r the optimal regime changes below r = 1 and above it (bisection in
 * log r to a factor of 1.01), and r = 1 itself from the optimal triple point up (dropping one feature or the other
 * ties there). A density with no change on a side gives that curve no point.
 */
export function optimalBoundaryCurves(densities: readonly number[], triple = optimalTripleDensity()): Array<{ name: string; s: number[]; r: number[] }> {
  const regime = (s: number, r: number) => optimalRegime('feature-2x1', s, r);
  const change = (s: number, lo: number, hi: number): number | null => {
    const [a, b] = [regime(s, lo), regime(s, hi)];
    if (a === b) return null;
    while (hi / lo > 1.01) {
      const mid = Math.sqrt(lo * hi);
      if (regime(s, mid) === a) lo = mid;
      else hi = mid;
    }
    return Math.sqrt(lo * hi);
  };
  const lower = { name: 'optimal: superposition / not represented', s: [] as number[], r: [] as number[] };
  const upper = { name: 'optimal: superposition / dedicated', s: [] as number[], r: [] as number[] };
  for (const s of densities) {
    const low = change(s, 0.01, 0.999);
    if (low !== null) lower.s.push(s), lower.r.push(low);
    const high = change(s, 1.001, 100);
    if (high !== null) upper.s.push(s), upper.r.push(high);
  }
  const top = Math.max(...densities);
  const even = triple !== null && triple < top ? [{ name: 'optimal: r = 1', s: [triple, top], r: [1, 1] }] : [];
  return [lower, upper, ...even];
}
