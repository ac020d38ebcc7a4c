/**
 * Feature geometry (uniform importance, n features into m dimensions across sparsity): dimensions per feature
 * D* = m / ||W||_F^2 against 1/(1 - S) sticks at 1 and at 1/2 (antipodal pairs), and each feature's
 * dimensionality D_i = ||W_i||^2 / sum_j (W^_i . W_j)^2 clusters at the fractions of the polytopes the features
 * form: 1, 3/4 (tetrahedron), 2/3 (triangle), 1/2 (antipodal pair), 2/5 (pentagon), 3/8 (square antiprism).
 */
import { logspace } from '../phase/experiments.ts';
import type { TrainDocument } from '../toy/presets.ts';
import { fmt, trainPresetRun, vl, type PaperContext, type PaperFigure } from './figure.ts';

/** The fractions the paper draws as lines, with the polytope each stands for. */
export const FRACTIONS: readonly { value: number; label: string }[] = [
  { value: 1, label: '1 (dedicated)' },
  { value: 3 / 4, label: '3/4 (tetrahedron)' },
  { value: 2 / 3, label: '2/3 (triangle)' },
  { value: 1 / 2, label: '1/2 (antipodal pair)' },
  { value: 2 / 5, label: '2/5 (pentagon)' },
  { value: 3 / 8, label: '3/8 (square antiprism)' },
];
/** Further lines of the official notebook, where sparser models' features settle (drawn lighter). */
const NOTEBOOK_LINES: readonly { value: number; label: string }[] = [
  { value: 2 / 6, label: '2/6' },
  { value: 2 / 7, label: '2/7' },
  { value: 3 / 12, label: '3/12' },
  { value: 3 / 20, label: '3/20' },
];
/** A D_i counts as on a fraction's line within this distance. */
const ON_LINE = 0.03;
/** The share on the lines that counts as clustering: well above the ~53% an even spread would put there. */
const CLUSTERED = 0.75;

export interface GeometryRun {
  features: number;
  hidden: number;
  steps: number;
  doc: TrainDocument;
}

/** The uniform-importance models across sparsity that geometry and adversarial read: trained once per paper run. */
export function geometryRun(ctx: PaperContext): Promise<GeometryRun> {
  return ctx.shared('geometry', async () => {
    const quick = ctx.scale === 'quick';
    // quick: the notebook's 200 -> 20; full: the paper's 400 -> 30
    const [features, hidden, steps] = quick ? [200, 20, 4000] : [400, 30, 10_000];
    const densities = logspace(1, quick ? 30 : 100, quick ? 12 : 30).map((r) => 1 / r);
    const doc = await trainPresetRun(ctx, 'geometry models', { experiment: 'geometry', features, hidden, importance: 'uniform', densities, steps, evalBatch: 8192, seed: ctx.seed });
    return { features, hidden, steps, doc };
  });
}

export const geometry: PaperFigure = {
  name: 'geometry',
  section: 'The geometry of superposition',
  anchor: 'geometry',
  title: 'Dimensions per feature, and the fractions features settle on',
  claim: 'With equally important features, D* = m / ||W||_F^2 against 1/(1 - S) is sticky at 1 and at 1/2 (antipodal pairs), and the features\u2019 dimensionalities D_i cluster at 1, 3/4, 2/3, 1/2, 2/5 and 3/8: the features form tetrahedra, triangles, antipodal pairs, pentagons and square antiprisms.',
  cost: { quick: 100, full: 5000 },
  shares: 'geometry',
  async run(ctx) {
    const { features: n, hidden: m, steps, doc } = await geometryRun(ctx);
    // the paper's metrics, as the train document computed them for every model (D* is null for W = 0)
    const models = doc.instances.map(({ density, metrics: f }) => ({ sparsityRatio: 1 / density, density, dStar: f.dimensionsPerFeature ?? Infinity, dimensionality: f.dimensionality, norms: f.norms }));
    const ratios = models.map((x) => x.sparsityRatio);
    const x = { field: 'ratio', type: 'quantitative' as const, scale: { type: 'log' as const, nice: false, domain: [1, Math.max(...ratios)] }, title: '1 / (1 - S)' };
    const lines = (values: readonly { value: number; label: string }[], color = '#999') => ({
      data: { values: values.map((v) => ({ ...v })) },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 4], color }, encoding: { y: { field: 'value', type: 'quantitative' } } },
        { mark: { type: 'text', align: 'right', dx: -4, dy: -5, color, fontSize: 10 }, encoding: { y: { field: 'value', type: 'quantitative' }, x: { datum: Math.max(...ratios) }, text: { field: 'label' } } },
      ],
    });
    const dStarSpec = vl({
      title: { text: `Dimensions per feature D* = m / ||W||_F^2 (${n} features, ${m} dimensions)`, subtitle: 'dashed: the plateaus the paper finds, 1 and 1/2' },
      width: 520,
      height: 280,
      layer: [
        lines([FRACTIONS[0], FRACTIONS[3]]),
        { data: { values: models.map((v) => ({ ratio: v.sparsityRatio, dStar: v.dStar })) }, mark: { type: 'line', point: true }, encoding: { x, y: { field: 'dStar', type: 'quantitative', scale: { domain: [0, 1.1] }, title: 'D*' }, tooltip: [{ field: 'ratio', title: '1/(1-S)', format: '.3' }, { field: 'dStar', title: 'D*', format: '.3f' }] } },
      ],
    });
    // Every represented feature's D_i, jittered sideways a little as the notebook does (a tenth of a grid step).
    // Not the dense model: with equal importances any 20-dimensional projection is as good, so its features are
    // spread thinly over all directions and D_i says nothing (the paper notes the same).
    const step = ratios.length > 1 ? ratios[1] / ratios[0] : 1.1;
    const sparse = models.filter((v) => v.density < 1);
    const scatter = sparse.flatMap((v, k) =>
      v.dimensionality.flatMap((d, i) => (v.norms[i] >= 0.5 ? [{ ratio: v.sparsityRatio * step ** (0.2 * (((i * 7919 + k) % 11) / 10 - 0.5)), feature: i, di: d }] : [])),
    );
    const scatterSpec = vl({
      title: { text: 'Feature dimensionality D_i of every represented feature', subtitle: 'dashed: the fractions of the polytopes the paper names; lighter: further lines of the notebook' },
      width: 520,
      height: 320,
      layer: [
        lines(NOTEBOOK_LINES, '#ccc'),
        lines(FRACTIONS),
        { data: { values: scatter }, mark: { type: 'circle', size: 9, opacity: 0.5, color: '#2255bb' }, encoding: { x, y: { field: 'di', type: 'quantitative', scale: { domain: [0, 1.05] }, title: 'D_i' }, tooltip: [{ field: 'feature' }, { field: 'di', title: 'D_i', format: '.3f' }] } },
      ],
    });
    const dense = models[0];
    const onHalf = models.filter((v) => Math.abs(v.dStar - 0.5) <= 0.05).map((v) => fmt(v.sparsityRatio));
    // The named fractions are the geometries of models with D* between 3/8 and 1 (sparser ones pack further).
    const between = sparse.filter((v) => v.dStar >= 3 / 8 - 0.01);
    const all = between.flatMap((v) => v.dimensionality.filter((_, i) => v.norms[i] >= 0.5));
    const onLines = all.filter((d) => FRACTIONS.some((f) => Math.abs(d - f.value) <= ON_LINE)).length;
    // The share a D_i spread evenly over [3/8 - band, 1] would land on the lines (the bands' total width over the range).
    const chance = (FRACTIONS.length * 2 * ON_LINE) / (1 + ON_LINE - (3 / 8 - ON_LINE));
    const checks = [
      { claim: 'Dense (1 - S = 1): D* = 1, one dimension per feature', measured: `D* = ${fmt(dense.dStar)}`, pass: Math.abs(dense.dStar - 1) <= 0.05 },
      { claim: 'D* sticks at 1/2 (antipodal pairs): at least two sparsities with D* within 0.05 of 1/2', measured: onHalf.length ? `D* within 0.05 of 1/2 at 1/(1-S) = ${onHalf.join(', ')}` : `never; D* from ${fmt(Math.max(...models.map((v) => v.dStar)))} to ${fmt(Math.min(...models.map((v) => v.dStar)))}`, pass: onHalf.length >= 2 },
      {
        claim: `Where D* lies between 3/8 and 1, represented features' D_i cluster on the fractions 1, 3/4, 2/3, 1/2, 2/5, 3/8: over ${100 * CLUSTERED}% within ${ON_LINE} of one`,
        measured: `${onLines} of ${all.length} features of ${between.length} sparsities (${((100 * onLines) / Math.max(1, all.length)).toFixed(0)}%; D_i spread evenly would put about ${(100 * chance).toFixed(0)}% there)`,
        pass: all.length > 0 && onLines / all.length > CLUSTERED,
      },
    ];
    return {
      figures: [
        ['geometry-dstar', 'D* against sparsity', dStarSpec],
        ['geometry-di', 'Feature dimensionalities against sparsity', scatterSpec],
      ],
      checks,
      settings: { features: n, hidden: m, importance: 'uniform', densities: `${models.length}, 1/(1-S) from 1 to ${fmt(Math.max(...ratios))} (log-spaced)`, steps, batch: 1024, lr: 1e-3, evalBatch: 8192 },
      data: { models: models.map((v, k) => ({ ...v, W: doc.instances[k].W, b: doc.instances[k].b })) },
    };
  },
};
