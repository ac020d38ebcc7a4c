/**
 * Correlated and anticorrelated features (equal importance, two hidden dimensions). The paper: correlated
 * features prefer orthogonal directions (they interfere whenever they co-occur), anticorrelated ones prefer
 * opposite directions (they never co-occur, so antipodal interference costs nothing); with three correlated
 * pairs in two dimensions the model collapses pairs into one direction (a PCA-like solution) the denser the data:
 * all three at 0.25-0.5, two at 0.15-0.2, one at 0.05-0.15, none at 0.05 and below.
 *
 * Sets follow ARENA: correlated members share one on/off draw; an anticorrelated set holds at most one active
 * member and each member keeps density p.
 */
import { featureSets, type FeatureSet } from '../toy/data.ts';
import { arrowFacets, cosine, densityPanel, featureRows, fmt, trainPresetRun, type PaperContext, type PaperFigure } from './figure.ts';

/** A pair's members count as collapsed into one direction above this cosine (both represented). */
const COLLAPSED = 0.9;

interface SetModel {
  density: number;
  rows: number[][];
  norms: number[];
}

async function trainSets(ctx: PaperContext, label: string, features: number, sets: FeatureSet[], densities: number[], steps: number): Promise<SetModel[]> {
  const doc = await trainPresetRun(ctx, label, { experiment: 'intro', features, hidden: 2, importance: 'uniform', featureSets: sets, densities, steps, restarts: 4, evalBatch: 8192, seed: ctx.seed });
  return doc.instances.map((inst) => ({ density: inst.density, rows: featureRows(inst.W!), norms: inst.metrics.norms }));
}

/** The cosine between the two members of each pair (null when either is not represented). */
const pairCosines = (m: SetModel, pairs: number): (number | null)[] =>
  Array.from({ length: pairs }, (_, s) => (m.norms[2 * s] >= 0.5 && m.norms[2 * s + 1] >= 0.5 ? cosine(m.rows[2 * s], m.rows[2 * s + 1]) : null));

const show = (cs: readonly (number | null)[]): string => cs.map((c) => (c === null ? 'not represented' : fmt(c))).join(', ');

export const correlated: PaperFigure = {
  name: 'correlated',
  section: 'Correlated and anticorrelated features',
  anchor: 'geometry-correlated',
  title: 'Correlated features go orthogonal, anticorrelated ones antipodal',
  claim: 'Correlated features prefer to be orthogonal and anticorrelated features prefer to be antipodal (4 features in 2 dimensions); with 3 correlated pairs in 2 dimensions, pairs collapse into one direction as the features get denser.',
  cost: { quick: 80, full: 80 },
  async run(ctx) {
    const steps = 10_000;
    const sparse = [0.1, 0.05, 0.02];
    const collapse = [0.7, 0.35, 0.17, 0.1, 0.03];
    const corr = await trainSets(ctx, '4 -> 2, correlated pairs', 4, featureSets('correlated', 2, 2), sparse, steps);
    const anti = await trainSets(ctx, '4 -> 2, anticorrelated pairs', 4, featureSets('anticorrelated', 2, 2), sparse, steps);
    const three = await trainSets(ctx, '6 -> 2, three correlated pairs', 6, featureSets('correlated', 3, 2), collapse, steps);
    const names = (n: number, kind: string) => Array.from({ length: n }, (_, f) => `${kind} pair ${Math.floor(f / 2)}, feature ${f}`);
    const panels = [
      ...corr.map((m) => ({ panel: `correlated, ${densityPanel(m.density)}`, rows: m.rows, names: names(4, 'correlated') })),
      ...anti.map((m) => ({ panel: `anticorrelated, ${densityPanel(m.density)}`, rows: m.rows, names: names(4, 'anticorrelated') })),
    ];
    const fourSpec = arrowFacets('4 features in 2 dimensions: two correlated pairs (top), two anticorrelated pairs (bottom)', 'one hue per pair; best of 4 models per density', panels, 'paired', 3);
    const sixSpec = arrowFacets('6 features in 2 dimensions: three correlated pairs across density', 'one hue per pair; a pair drawn as one arrow has collapsed into one direction', three.map((m) => ({ panel: densityPanel(m.density), rows: m.rows, names: names(6, 'correlated') })), 'paired', 5);
    const corrCos = corr.map((m) => pairCosines(m, 2));
    const antiCos = anti.map((m) => pairCosines(m, 2));
    const collapsed = three.map((m) => pairCosines(m, 3).filter((c) => c !== null && c > COLLAPSED).length);
    const paperCollapsed = (p: number): string => (p >= 0.5 ? 'PCA-like' : p >= 0.25 ? '3' : p >= 0.15 ? '2' : p > 0.05 ? '1' : '0');
    const checks = [
      { claim: 'Correlated pairs: the two members of a pair are orthogonal (|cos| < 0.3) at every density', measured: corr.map((m, k) => `1 - S = ${fmt(m.density)}: ${show(corrCos[k])}`).join('; '), pass: corrCos.every((cs) => cs.every((c) => c !== null && Math.abs(c) < 0.3)) },
      { claim: 'Anticorrelated pairs: the two members of a pair are antipodal (cos < -0.9) at every density', measured: anti.map((m, k) => `1 - S = ${fmt(m.density)}: ${show(antiCos[k])}`).join('; '), pass: antiCos.every((cs) => cs.every((c) => c !== null && c < -0.9)) },
      { claim: 'Three correlated pairs: more pairs collapse into one direction the denser the features (never more at a sparser density)', measured: `collapsed pairs (cos > ${COLLAPSED}) by 1 - S: ${three.map((m, k) => `${fmt(m.density)}: ${collapsed[k]} (paper: ${paperCollapsed(m.density)})`).join(', ')}`, pass: collapsed.every((c, k) => k === 0 || c <= collapsed[k - 1]) },
    ];
    return {
      figures: [
        ['correlated-4', 'Four features: correlated and anticorrelated pairs', fourSpec],
        ['correlated-6', 'Six features: three correlated pairs', sixSpec],
      ],
      checks,
      settings: { importance: 'uniform', hidden: 2, 'sets': "ARENA's: correlated pairs share one on/off draw; anticorrelated pairs hold at most one active member, each member at density p", 'densities (4 -> 2)': sparse, 'densities (6 -> 2)': collapse, steps, batch: 1024, lr: 1e-3, restarts: 4 },
      data: { correlated: corr, anticorrelated: anti, threePairs: three.map((m, k) => ({ ...m, collapsed: collapsed[k] })) },
    };
  },
};
