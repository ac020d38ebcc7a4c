/**
 * The paper's first figure: five features of importance 0.9^i in two dimensions. Dense, the model keeps the two
 * most important features on orthogonal axes and drops the rest; as the features get sparser it packs more of
 * them in, first as antipodal pairs, and at density 0.05 all five as a regular pentagon.
 */
import { angularGaps, isRegularPolygon } from '../toy/metrics.ts';
import { INTRO_DENSITIES, PRESETS } from '../toy/presets.ts';
import { arrowFacets, CATEGORY_COLORS, densityPanel, featureMajor, featureRows, fmt, gramFacets, trainPresetRun, vl, type PaperFigure } from './figure.ts';

export const intro: PaperFigure = {
  name: 'intro',
  section: 'Demonstrating superposition',
  anchor: 'demonstrating',
  title: 'Five features in two dimensions, from dense to sparse',
  claim: 'Dense, the two most important features get orthogonal dimensions and the other three are dropped; as sparsity rises more features are represented, in superposition, and at 1 - S = 0.05 all five form a regular pentagon.',
  cost: { quick: 11, full: 11 },
  async run(ctx) {
    // The notebook's settings at either scale: the model is tiny, and the best of 4 is what the pentagon needs.
    const settings = { features: 5, hidden: 2, importance: '0.9^i', densities: INTRO_DENSITIES.map(fmt), steps: 10_000, batch: 1024, lr: 1e-3, restarts: PRESETS.intro.restarts, evalBatch: 8192 };
    const doc = await trainPresetRun(ctx, 'intro', { experiment: 'intro', steps: settings.steps, evalBatch: settings.evalBatch, seed: ctx.seed });
    const models = doc.instances.map((inst) => {
      const rows = featureRows(inst.W!);
      const W = featureMajor(inst.W!);
      return { density: inst.density, rows, gaps: angularGaps(W, 0, 5), represented: inst.metrics.represented, norms: inst.metrics.norms, loss: inst.loss };
    });
    const arrowSpec = arrowFacets(
      'Each feature as an arrow W_i in the two hidden dimensions',
      'best of 4 models per density; hover a tip for its norm and angle',
      models.map((m) => ({ panel: densityPanel(m.density), rows: m.rows, names: m.rows.map((_, f) => `feature ${f} (I = ${fmt(0.9 ** f)})`) })),
    );
    const gramSpec = gramFacets(
      'W^T W: how much each feature reads every other',
      'diagonal: ||W_i||^2; off the diagonal, blue: overlap, red: opposite (antipodal)',
      models.map((m) => ({ panel: densityPanel(m.density), rows: m.rows })),
      { columns: 5, size: 110, limit: 1.3 },
    );
    const normSpec = vl({
      title: { text: 'Feature norms ||W_i|| against density', subtitle: 'sparser to the right; a feature is represented when ||W_i|| >= 0.5' },
      width: 480,
      height: 240,
      data: { values: models.flatMap((m) => m.norms.map((norm, f) => ({ density: m.density, feature: `feature ${f} (I = ${fmt(0.9 ** f)})`, norm }))) },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 4], color: '#999' }, encoding: { y: { datum: 0.5 } } },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'density', type: 'quantitative', scale: { type: 'log', reverse: true, nice: false, domain: [0.05, 1] }, title: 'feature density (1 - S)' },
            y: { field: 'norm', type: 'quantitative', title: '||W_i||' },
            color: { field: 'feature', type: 'nominal', scale: CATEGORY_COLORS, title: 'feature' },
            tooltip: [{ field: 'feature' }, { field: 'density', format: '.3' }, { field: 'norm', format: '.3f' }],
          },
        },
      ],
    });

    const dense = models[0];
    const sparse = models[models.length - 1];
    const counts = models.map((m) => m.represented);
    const checks = [
      {
        claim: 'Dense (1 - S = 1): the two most important features are represented, the other three dropped',
        measured: `represented: ${dense.represented}; norms ${dense.norms.map((v) => v.toFixed(2)).join(', ')}`,
        pass: dense.represented === 2 && dense.norms[0] >= 0.5 && dense.norms[1] >= 0.5,
      },
      {
        claim: 'More features are represented as sparsity rises (never fewer at a sparser density)',
        measured: `represented from dense to sparse: ${counts.join(', ')}`,
        pass: counts.every((c, k) => k === 0 || c >= counts[k - 1]),
      },
      {
        claim: 'At 1 - S = 0.05 the five features form a regular pentagon (every gap within 5 degrees of 72)',
        measured: `gaps between neighbouring features: ${sparse.gaps.map((g) => g.toFixed(1)).join(', ')} degrees`,
        pass: isRegularPolygon(sparse.gaps, 5),
      },
    ];
    return {
      figures: [
        ['intro-arrows', 'Features in the hidden plane', arrowSpec],
        ['intro-gram', 'W^T W per density', gramSpec],
        ['intro-norms', 'Feature norms against density', normSpec],
      ],
      checks,
      settings,
      data: { models: models.map(({ rows, ...m }) => ({ ...m, W: rows })) },
    };
  },
};
