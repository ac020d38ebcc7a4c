/**
 * The theory at each candidate's optimum: its exact expected loss against the paper's closed forms and against
 * sampling, and the numbers an independent computation found (they motivated it): how much the optimal pair
 * saves, the pair that beats drop-or-dedicate at r = 1 up to density 0.7, and two 3x2 cells where training found
 * superposition that the paper's theory calls not represented.
 */
import { describe, expect, it } from 'vitest';
import { exactLoss, gram, optimalCandidates, optimalTripleDensity, optimiseCandidate, OPTIMAL_CANDIDATES } from '../../src/phase/optimal-theory.ts';
import { CANDIDATES, type FeatureExperiment } from '../../src/phase/theory.ts';
import { monteCarloLoss } from '../helpers.ts';

describe('the exact expected loss', () => {
  it.each(['feature-2x1', 'feature-3x2'] as FeatureExperiment[])('%s: equals every paper candidate\u2019s closed form', (experiment) => {
    const n = experiment === 'feature-2x1' ? 2 : 3;
    for (const [s, r] of [[0.5, 0.7], [0.1, 3], [0.9, 1.6], [0.03, 0.2]]) {
      for (const c of CANDIDATES[experiment]) {
        const { W, b } = c.weights(s);
        expect(exactLoss(gram(W), b, [...Array(n - 1).fill(1), r], s)).toBeCloseTo(c.loss(s, r), 12);
      }
    }
  });

  it('equals a Monte-Carlo estimate for weights with every feature coupled and biases of both signs', () => {
    const W = [[0.9, 0.2], [-0.5, 0.8], [0.3, -1.1]];
    const b = [0.1, -0.2, 0.05];
    const importance = [1, 0.8, 1.5];
    for (const s of [0.3, 0.8]) {
      const mc = monteCarloLoss(W, b, importance, s, 200_000, 7);
      expect(Math.abs(exactLoss(gram(W), b, importance, s) - mc.mean)).toBeLessThan(4 * mc.se);
    }
  });
});

describe('candidates at their optima', () => {
  const pairAt = (s: number) => optimiseCandidate(OPTIMAL_CANDIDATES['feature-2x1'][2], [1, 1], s);
  it('the antipodal pair at r = 1 saves 1.1% of its fixed-weight loss at density 0.2 and 4.4% at 0.4', () => {
    expect(1 - pairAt(0.2).loss / ((2 * 0.2 * 0.2) / 6)).toBeCloseTo(0.011, 3);
    expect(1 - pairAt(0.4).loss / ((2 * 0.4 * 0.4) / 6)).toBeCloseTo(0.044, 3);
  });

  it('at r = 1 and density 0.7, a pair of norm 0.76 and bias 0.33 beats dropping or dedicating', () => {
    const [best, ...rest] = optimalCandidates('feature-2x1', 0.7, 1);
    expect(best.name).toBe('antipodal pair (1, extra)');
    expect(best.regime).toBe('superposition');
    expect(Math.abs(best.W[0][0])).toBeCloseTo(0.76, 2);
    expect(best.b[0]).toBeCloseTo(0.33, 2);
    expect(best.loss).toBeLessThan(Math.min(...rest.map((c) => c.loss)));
    // the dropped feature alone costs s/3 - s^2/4 at its mean bias s/2: the optimiser finds exactly that
    expect(rest.find((c) => c.name === 'extra dropped')!.loss).toBeCloseTo(0.7 / 3 - 0.49 / 4, 6);
  });

  it('so the triple point on r = 1 moves from 4/7 to about 0.71', () => {
    const triple = optimalTripleDensity(0.99, 2e-3)!;
    expect(triple).toBeGreaterThan(0.7);
    expect(triple).toBeLessThan(0.72);
  }, 60_000);

  it('the two 3x2 cells where training found superposition against the paper\u2019s theory are superposition at the optima', () => {
    for (const [s, r] of [[0.268, 0.193], [0.518, 0.72]]) expect(optimalCandidates('feature-3x2', s, r)[0].regime).toBe('superposition');
  });
});
