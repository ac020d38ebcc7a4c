import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/random.ts';
import { monteCarloLoss } from '../helpers.ts';
import { aggregateRuns, classifyExtraFeature, labelNeurons, type FeatureRun } from '../../src/phase/classify.ts';
import { boundaryCurves, CANDIDATES, theoryRegime, TRIPLE_DENSITY, type FeatureExperiment } from '../../src/phase/theory.ts';

describe('closed-form theory', () => {
  const experiments: FeatureExperiment[] = ['feature-2x1', 'feature-3x2'];
  it.each(experiments)('%s: every candidate loss formula equals a Monte-Carlo estimate of its solution', (experiment) => {
    const n = experiment === 'feature-2x1' ? 2 : 3;
    for (const [s, r] of [[0.5, 0.7], [0.1, 3], [0.9, 1.6]]) {
      const importance = [...new Array(n - 1).fill(1), r];
      CANDIDATES[experiment].forEach((c, k) => {
        const { W, b } = c.weights(s);
        const mc = monteCarloLoss(W, b, importance, s, 100_000, 1000 * s + k);
        expect(Math.abs(mc.mean - c.loss(s, r)), `${c.name} at s=${s}, r=${r}: MC ${mc.mean} +- ${mc.se}`).toBeLessThan(5 * mc.se + 1e-9);
      });
    }
  });

  it("2x1: the paper's numbers (superposition iff 2s/(4-5s) < r < 2/s - 5/2; triple point (4/7, 1))", () => {
    const cases: Array<[number, number, number]> = [[0.5, 2 / 3, 1.5], [0.1, 0.2 / 3.5, 17.5], [0.01, 0.02 / 3.95, 197.5]];
    for (const [s, lo, hi] of cases) {
      expect(theoryRegime('feature-2x1', s, lo * 0.999)).toBe('not-represented');
      expect(theoryRegime('feature-2x1', s, lo * 1.001)).toBe('superposition');
      expect(theoryRegime('feature-2x1', s, hi * 0.999)).toBe('superposition');
      expect(theoryRegime('feature-2x1', s, hi * 1.001)).toBe('dedicated');
    }
    // Above the triple point there is no superposition at any importance.
    for (const r of [0.5, 0.99, 1.01, 2]) expect(theoryRegime('feature-2x1', TRIPLE_DENSITY * 1.01, r)).not.toBe('superposition');
    expect(theoryRegime('feature-2x1', TRIPLE_DENSITY * 0.99, 1)).toBe('superposition');
  });

  it('3x2: the extra feature is dedicated whenever r > 1, and in an antipodal pair iff s < 4/7 and r > 2s/(4-5s) below', () => {
    for (const s of [0.02, 0.3, 0.8]) {
      expect(theoryRegime('feature-3x2', s, 1.05)).toBe('dedicated');
      expect(theoryRegime('feature-3x2', s, 5)).toBe('dedicated');
    }
    expect(theoryRegime('feature-3x2', 0.3, 0.9)).toBe('superposition');
    expect(theoryRegime('feature-3x2', 0.3, (0.6 / 2.5) * 0.99)).toBe('not-represented');
    expect(theoryRegime('feature-3x2', 0.8, 0.9)).toBe('not-represented');
  });

  it.each(experiments)('%s: the drawn boundary curves separate different theoretical regimes', (experiment) => {
    for (const curve of boundaryCurves(experiment, 0.01, 1, 25)) {
      curve.s.forEach((s, i) => {
        const r = curve.r[i];
        if (s > 0.999 || r <= 0) return;
        expect(theoryRegime(experiment, s, r * 0.995), `${curve.name} at s=${s}`).not.toBe(theoryRegime(experiment, s, r * 1.005));
      });
    }
  });
});

describe('classifiers on hand-built weights', () => {
  const extra = (W: number[][]) => classifyExtraFeature(Float32Array.from(W.flat()), 0, W.length, W[0].length).regime;
  it('feature regimes', () => {
    expect(extra([[1], [0]])).toBe('not-represented');
    expect(extra([[0], [1]])).toBe('dedicated');
    expect(extra([[1], [-1]])).toBe('superposition');
    expect(extra([[1, 0], [-1, 0], [0, 1]])).toBe('dedicated');
    expect(extra([[1, 0], [0, 1], [0, -1]])).toBe('superposition');
    expect(extra([[1, 0], [0, 1], [0.1, 0.2]])).toBe('not-represented');
  });

  it("aggregation 'best' takes the lowest-loss run; 'majority' drops the worst, votes, and breaks ties by loss", () => {
    const run = (seed: number, loss: number, regime: FeatureRun['regime']): FeatureRun => ({ seed, loss, regime, norm: 1, superposition: 0, W: [], b: [] });
    const runs = [run(0, 1, 'dedicated'), run(1, 2, 'superposition'), run(2, 3, 'superposition'), run(3, 9, 'dedicated')];
    expect(aggregateRuns(runs)).toEqual({ regime: 'dedicated', loss: 1, kept: [0] });
    expect(aggregateRuns(runs, 'majority').regime).toBe('superposition');
    // After dropping the worst (seed 2), one dedicated and one superposition remain: the better run (seed 1) wins.
    const tie = aggregateRuns([run(0, 5, 'dedicated'), run(1, 4, 'superposition'), run(2, 9, 'dedicated')], 'majority');
    expect(tie.regime).toBe('superposition');
    expect(tie.kept).toEqual([1, 0]);
    expect(tie.loss).toBe(4.5);
  });

  it('neuron labels: monosemantic, polysemantic, dead; features list the neurons they use', () => {
    // 3 features x 3 neurons: neuron 0 reads feature 0 only, neuron 1 mixes features 1 and 2, neuron 2 is dead.
    const W = Float32Array.from([1, 0, 0, 0, 0.8, 0, 0, -0.6, 0]);
    const { neurons, featureNeurons } = labelNeurons(W, 0, 3, 3);
    expect(neurons.map((n) => n.regime)).toEqual(['monosemantic', 'polysemantic', 'dead']);
    expect(neurons[1].monosemanticity).toBeCloseTo(0.8, 6);
    expect(neurons[1].topFeature).toBe(1);
    expect(featureNeurons).toEqual([[0], [1], [1]]);
  });
});

describe('stratified expected loss of trained models', () => {
  it.each(['feature-2x1', 'feature-3x2'] as const)('%s: equals every candidate closed form, even at low density', async (experiment) => {
    const { ToyModel } = await import('../../src/toy/model.ts');
    const { Tensor } = await import('../../src/autograd/tensor.ts');
    const { stratifiedLoss } = await import('../../src/toy/expected.ts');
    const n = experiment === 'feature-2x1' ? 2 : 3;
    const m = n - 1;
    for (const [s, r] of [[0.01, 1.5], [0.2, 0.7], [0.9, 2]]) {
      const cands = CANDIDATES[experiment];
      const model = new ToyModel({ kind: 'relu-output', instances: cands.length, features: n, hidden: m }, createRng(0));
      cands.forEach((c, i) => {
        const { W, b } = c.weights(s);
        model.W.data.set(W.flat(), i * n * m);
        model.b.data.set(b, i * n);
      });
      const imp = new Tensor(Float32Array.from([...new Array(n - 1).fill(1), r]), [n]);
      const got = stratifiedLoss(model, cands.map(() => s), imp, 20_000, cands.map((_, i) => createRng(`strat/${i}`)));
      // The model's loss is a mean over features; the closed forms sum over them. Relative error of a 20k-sample
      // mean per pattern is well under 2% here; a plain 8192-sample batch at s = 0.01 would see ~1 co-active pair.
      cands.forEach((c, i) => expect(Math.abs(got[i] * n - c.loss(s, r)) / c.loss(s, r), `${c.name} at s=${s}`).toBeLessThan(0.02));
    }
  });
});
