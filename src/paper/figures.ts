/** The paper's figures, in the paper's order: scripts/paper.ts runs these (all, or those --only names). */
import { adversarial } from './adversarial.ts';
import { correlated } from './correlated.ts';
import { dynamics } from './dynamics.ts';
import type { PaperFigure, Scale } from './figure.ts';
import { geometry } from './geometry.ts';
import { intro } from './intro.ts';
import { computation, privilegedBasis } from './neurons.ts';
import { phase2x1, phase3x2 } from './phase.ts';
import { sparsity } from './sparsity.ts';

export const FIGURES: readonly PaperFigure[] = [intro, sparsity, phase2x1, phase3x2, geometry, correlated, dynamics, privilegedBasis, computation, adversarial];
export const FIGURE_NAMES = FIGURES.map((f) => f.name);

/**
 * The figures shard K of N runs (a Slurm array task, a Kubernetes index): figures that share training stay
 * together, and groups go, most expensive first, to the shard with the least work so far. The same split on
 * every task, whatever order they start in.
 */
export function figuresOfShard(figures: readonly PaperFigure[], scale: Scale, index: number, count: number): PaperFigure[] {
  const groups = new Map<string, PaperFigure[]>();
  for (const f of figures) groups.set(f.shares ?? f.name, [...(groups.get(f.shares ?? f.name) ?? []), f]);
  const cost = (g: readonly PaperFigure[]) => g.reduce((sum, f) => sum + f.cost[scale], 0);
  const load = Array<number>(count).fill(0);
  const mine = new Set<PaperFigure>();
  for (const g of [...groups.values()].sort((a, b) => cost(b) - cost(a))) {
    const target = load.indexOf(Math.min(...load));
    load[target] += cost(g);
    if (target === index) g.forEach((f) => mine.add(f));
  }
  return figures.filter((f) => mine.has(f));
}
