/**
 * The phase diagrams of one extra feature against its relative importance and density (2 features in 1
 * dimension, 3 in 2), trained by phase-diagram.ts's sweep and set beside the closed-form theory of the paper's
 * fixed candidate geometries.
 */
import type { FeatureExperiment } from '../phase/theory.ts';
import { featurePhaseSpec, seedSpreadSpec } from '../phase/plots.ts';
import { percent } from '../phase/results.ts';
import { trainPhaseSweep, type PaperFigure } from './figure.ts';

/** The share of cells away from a theoretical boundary that must agree with theory. */
const AGREEMENT = 0.9;

function phaseFigure(experiment: FeatureExperiment, title: string, claim: string, cost: PaperFigure['cost']): PaperFigure {
  return {
    name: `phase-${experiment.slice('feature-'.length)}`,
    section: 'Superposition as a phase change',
    anchor: 'phase-change',
    title,
    claim,
    cost,
    async run(ctx) {
      const full = ctx.scale === 'full';
      const { results } = await trainPhaseSweep(ctx, `${experiment} sweep`, ['--experiment', experiment, ...(full ? ['--grid', '20', '--seeds', '10', '--steps', '5000'] : [])]);
      const a = results.agreement!;
      return {
        figures: [
          ['phase', 'Experiment beside theory', featurePhaseSpec(results)],
          ['seeds', 'Seeds that find the theory\u2019s solution', seedSpreadSpec(results)],
        ],
        checks: [
          {
            claim: `The trained models\u2019 regimes match the theory\u2019s away from its boundaries (at least ${percent(AGREEMENT)} of cells more than one grid step from one)`,
            measured: `${percent(a.awayFromBoundary)} of ${a.cellsAway} cells away from a boundary; ${percent(a.all)} of all ${a.cells}`,
            pass: a.awayFromBoundary >= AGREEMENT,
          },
        ],
        settings: { ...results.config, densities: `${results.config.densities.length} log-spaced, 0.01 to 1`, importances: `${results.config.importances.length} log-spaced, 0.1 to 10` },
        data: { results },
      };
    },
  };
}

export const phase2x1 = phaseFigure('feature-2x1', 'Phase diagram: 2 features in 1 dimension', 'With one dimension and two features, the extra feature is not represented, gets the dimension to itself, or shares it with the first in an antipodal pair (superposition), depending on its importance and the density; the empirical phase diagram follows the closed-form theory.', { quick: 4, full: 200 });
export const phase3x2 = phaseFigure('feature-3x2', 'Phase diagram: 3 features in 2 dimensions', 'With two dimensions and three features, the same three regimes appear for the extra feature, again with boundaries where the theory puts them.', { quick: 5, full: 300 });
