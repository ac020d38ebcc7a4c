/** The paper's figures, in the paper's order: scripts/paper.ts runs these (all, or those --only names). */
import { adversarial } from './adversarial.ts';
import { correlated } from './correlated.ts';
import { dynamics } from './dynamics.ts';
import type { PaperFigure } from './figure.ts';
import { geometry } from './geometry.ts';
import { intro } from './intro.ts';
import { computation, privilegedBasis } from './neurons.ts';
import { phase2x1, phase3x2 } from './phase.ts';
import { sparsity } from './sparsity.ts';

export const FIGURES: readonly PaperFigure[] = [intro, sparsity, phase2x1, phase3x2, geometry, correlated, dynamics, privilegedBasis, computation, adversarial];
export const FIGURE_NAMES = FIGURES.map((f) => f.name);
