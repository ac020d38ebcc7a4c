/**
 * The closed-form theory of the feature phase diagrams (Wattenberg's "Exploring exact toy models" notebook,
 * linked from the paper): the expected loss of a few hand-built candidate solutions, the cheapest of which gives
 * the theoretical regime of the extra (last) feature. s is the density (1 - S) of every feature, r the relative
 * importance of the extra feature; the loss is sum_i I_i (x_i - x'_i)^2 with I = (1, ..., 1, r).
 *
 * A dropped feature costs its variance around the bias s/2: (1-s)(s/2)^2 + s * int_0^1 (x - s/2)^2 dx = s/3 - s^2/4.
 * An antipodal pair (W_i = -W_j) errs by min(x_i, x_j) on both when both are active: 2 E[min^2] s^2 = s^2/3 in
 * total, split by the two importances: (I_i + I_j) s^2 / 6.
 */
import { exp, log } from '../math.ts';

/** What a model does with the extra feature: drops it, shares a direction with another feature, or gives it a dimension. */
export type FeatureRegime = 'not-represented' | 'superposition' | 'dedicated';
export const FEATURE_REGIMES: readonly FeatureRegime[] = ['not-represented', 'superposition', 'dedicated'];

/** The two feature phase diagrams: 2 features in 1 dimension, and 3 features in 2. */
export type FeatureExperiment = 'feature-2x1' | 'feature-3x2';

/** A hand-built solution with its closed-form expected loss at density s and extra-feature importance r. */
export interface Candidate {
  name: string;
  /** What this solution does with the extra feature. */
  regime: FeatureRegime;
  /** Expected loss (sum over features, weighted by importance). */
  loss(s: number, r: number): number;
  /** The solution itself: W (n x m, row i = feature i) and b, for checking the loss by sampling. */
  weights(s: number): { W: number[][]; b: number[] };
}

const dropped = (s: number): number => s / 3 - (s * s) / 4;

/** The candidate solutions of each feature experiment; the cheapest gives the theoretical regime. */
export const CANDIDATES: Record<FeatureExperiment, Candidate[]> = {
  'feature-2x1': [
    { name: 'extra dedicated, feature 1 dropped', regime: 'dedicated', loss: (s) => dropped(s), weights: (s) => ({ W: [[0], [1]], b: [s / 2, 0] }) },
    { name: 'extra dropped', regime: 'not-represented', loss: (s, r) => r * dropped(s), weights: (s) => ({ W: [[1], [0]], b: [0, s / 2] }) },
    { name: 'antipodal pair (1, extra)', regime: 'superposition', loss: (s, r) => ((1 + r) * s * s) / 6, weights: () => ({ W: [[1], [-1]], b: [0, 0] }) },
  ],
  'feature-3x2': [
    { name: 'extra dropped', regime: 'not-represented', loss: (s, r) => r * dropped(s), weights: (s) => ({ W: [[1, 0], [0, 1], [0, 0]], b: [0, 0, s / 2] }) },
    { name: 'feature 1 dropped, extra dedicated', regime: 'dedicated', loss: (s) => dropped(s), weights: (s) => ({ W: [[0, 0], [1, 0], [0, 1]], b: [s / 2, 0, 0] }) },
    { name: 'antipodal pair (1, 2), extra dedicated', regime: 'dedicated', loss: (s) => (s * s) / 3, weights: () => ({ W: [[1, 0], [-1, 0], [0, 1]], b: [0, 0, 0] }) },
    { name: 'antipodal pair (2, extra)', regime: 'superposition', loss: (s, r) => ((1 + r) * s * s) / 6, weights: () => ({ W: [[1, 0], [0, 1], [0, -1]], b: [0, 0, 0] }) },
  ],
};

/** The cheapest candidate at (s, r), and its regime for the extra feature. */
export function theoryOptimum(experiment: FeatureExperiment, s: number, r: number): Candidate {
  let best = CANDIDATES[experiment][0];
  for (const c of CANDIDATES[experiment]) if (c.loss(s, r) < best.loss(s, r)) best = c;
  return best;
}

/** The extra feature's theoretical regime at density s and importance r: the cheapest candidate's. */
export function theoryRegime(experiment: FeatureExperiment, s: number, r: number): FeatureRegime {
  return theoryOptimum(experiment, s, r).regime;
}

/** The density above which no superposition is optimal: the triple point of the 2x1 diagram is (4/7, 1). */
export const TRIPLE_DENSITY = 4 / 7;

/**
 * The regime boundaries as curves r(s) over density, for drawing on the diagrams. Derived from the candidate
 * losses (and tested against theoryRegime on both sides of each curve):
 *   2x1: superposition iff 2s/(4-5s) < r < 2/s - 5/2 (only for s < 4/7); elsewhere r = 1 splits dropped/dedicated.
 *   3x2: r = 1 always splits dedicated (r > 1) from the rest; below it, superposition iff s < 4/7 and r > 2s/(4-5s).
 */
export function boundaryCurves(experiment: FeatureExperiment, sMin: number, sMax: number, points = 120): Array<{ name: string; s: number[]; r: number[] }> {
  const logspace = (a: number, b: number): number[] => Array.from({ length: points }, (_, i) => exp(log(a) + ((log(b) - log(a)) * i) / (points - 1)));
  const sLow = logspace(sMin, Math.min(sMax, TRIPLE_DENSITY));
  const lower = { name: 'r = 2s/(4-5s)', s: sLow, r: sLow.map((s) => (2 * s) / (4 - 5 * s)) };
  if (experiment === 'feature-2x1') {
    const curves = [lower, { name: 'r = 2/s - 5/2', s: sLow, r: sLow.map((s) => 2 / s - 2.5) }];
    if (sMax > TRIPLE_DENSITY) curves.push({ name: 'r = 1', s: [TRIPLE_DENSITY, sMax], r: [1, 1] });
    return curves;
  }
  return [lower, { name: 'r = 1', s: [sMin, sMax], r: [1, 1] }];
}
