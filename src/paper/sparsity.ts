/**
 * Superposition as a function of sparsity (the notebook's 100 -> 20 model, importance 100^-linspace(0, 1)):
 * dense, the model keeps the 20 most important features on orthogonal dimensions; as sparsity rises it
 * represents more features, the least important ones first in superposition.
 */
import { pow } from '../math.ts';
import { PRESETS } from '../toy/presets.ts';
import { densityPanel, featureRows, fmt, gramFacets, trainPresetRun, vl, type PaperFigure } from './figure.ts';

/** Features of W^T W drawn (the most important): 100 x 100 cells a panel would make the SVG megabytes. */
const GRAM_FEATURES = 40;

export const sparsity: PaperFigure = {
  name: 'sparsity',
  section: 'Superposition as a phase of sparsity',
  anchor: 'demonstrating',
  title: '100 features in 20 dimensions across sparsity',
  claim: 'Dense, the model represents as many features as it has dimensions (the most important ones, orthogonally) and drops the rest; as sparsity rises, more and more features are represented, in superposition, the most important staying orthogonal longest.',
  cost: { quick: 65, full: 900 },
  async run(ctx) {
    const count = ctx.scale === 'quick' ? 5 : 20;
    const densities = Array.from({ length: count }, (_, i) => pow(20, -(i / (count - 1))));
    const { features: n, hidden: m } = PRESETS.sparsity;
    const settings = { features: n, hidden: m, importance: '100^-linspace(0, 1)', densities: densities.map(fmt), steps: 10_000, batch: 1024, lr: 1e-3, evalBatch: 8192 };
    const doc = await trainPresetRun(ctx, 'sparsity', { experiment: 'sparsity', densities, steps: settings.steps, evalBatch: settings.evalBatch, seed: ctx.seed });
    const models = doc.instances.map((inst) => ({ density: inst.density, rows: featureRows(inst.W!), norms: inst.metrics.norms, superposition: inst.metrics.superposition, represented: inst.metrics.represented, loss: inst.loss }));
    const order = models.map((x) => densityPanel(x.density));
    const gramSpec = gramFacets(
      `W^T W of the ${GRAM_FEATURES} most important features`,
      'diagonal: ||W_i||^2; off-diagonal entries are interference between features',
      models.map((x) => ({ panel: densityPanel(x.density), rows: x.rows.slice(0, GRAM_FEATURES) })),
      { columns: 3, size: 200, limit: 1, ticks: [0, 10, 20, 30] },
    );
    const bars = models.flatMap((x) => x.norms.map((norm, f) => ({ panel: densityPanel(x.density), feature: f, norm, superposition: x.superposition[f] })));
    const barSpec = vl({
      title: { text: '||W_i|| of every feature, coloured by its superposition', subtitle: 'features in importance order; dark: orthogonal to the others, yellow: shares its direction' },
      data: { values: bars },
      facet: { field: 'panel', type: 'nominal', sort: order, title: null },
      columns: 3,
      spec: {
        width: 240,
        height: 120,
        mark: 'bar',
        encoding: {
          x: { field: 'feature', type: 'ordinal', title: 'feature (by importance)', axis: { values: [0, 20, 40, 60, 80] } },
          y: { field: 'norm', type: 'quantitative', title: '||W_i||' },
          color: { field: 'superposition', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1], clamp: true }, title: 'superposition' },
          tooltip: [{ field: 'feature' }, { field: 'norm', format: '.3f' }, { field: 'superposition', format: '.3f' }],
        },
      },
    });
    const countSpec = vl({
      title: { text: 'Features represented against density', subtitle: `sparser to the right; dashed: the ${m} dimensions` },
      width: 480,
      height: 240,
      data: { values: models.map((x) => ({ density: x.density, represented: x.represented })) },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 4], color: '#999' }, encoding: { y: { datum: m } } },
        { mark: { type: 'line', point: true }, encoding: { x: { field: 'density', type: 'quantitative', scale: { type: 'log', reverse: true, nice: false, domain: [Math.min(...densities), 1] }, title: 'feature density (1 - S)' }, y: { field: 'represented', type: 'quantitative', scale: { domain: [0, n] }, title: 'features with ||W_i|| >= 0.5' }, tooltip: [{ field: 'density', format: '.3' }, { field: 'represented' }] } },
      ],
    });
    const dense = models[0];
    const sparse = models[models.length - 1];
    const kept = dense.superposition.filter((_, f) => dense.norms[f] >= 0.5);
    const counts = models.map((x) => x.represented);
    // Represented features should be the most important: count the represented features outside the first k.
    const outOfOrder = sparse.norms.filter((v, f) => v >= 0.5 && f >= sparse.represented).length;
    const checks = [
      {
        claim: `Dense: about ${m} features (as many as dimensions, within one) are represented, orthogonally (mean superposition below 0.05)`,
        measured: `represented ${dense.represented}; their superposition: mean ${fmt(kept.reduce((a, b) => a + b, 0) / kept.length)}, largest ${fmt(Math.max(...kept))}`,
        pass: Math.abs(dense.represented - m) <= 1 && kept.reduce((a, b) => a + b, 0) / kept.length < 0.05,
      },
      {
        claim: 'More features are represented as sparsity rises (never fewer at a sparser density, up to one)',
        measured: `represented from dense to sparse: ${counts.join(', ')}`,
        pass: counts.every((c, k) => k === 0 || c >= counts[k - 1] - 1),
      },
      {
        claim: `At the sparsest density, features beyond the ${m} dimensions are represented, in superposition, and they are the most important ones`,
        measured: `1 - S = ${fmt(sparse.density)}: ${sparse.represented} represented, ${outOfOrder} of them outside the ${sparse.represented} most important`,
        pass: sparse.represented > m && outOfOrder <= 2,
      },
    ];
    return {
      figures: [
        ['sparsity-gram', 'W^T W across sparsity', gramSpec],
        ['sparsity-norms', 'Feature norms and superposition across sparsity', barSpec],
        ['sparsity-count', 'Features represented against density', countSpec],
      ],
      checks,
      settings,
      data: { models: models.map(({ rows, ...x }) => ({ ...x, W: rows })) },
    };
  },
};
